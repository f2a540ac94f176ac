#include "hca_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool spark_hca_name_valid(const char *name, int len)
{
	if (len <= 0 || len >= SPARK_NAME_LEN)
		return false;
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return false;
	}
	return true;
}

static int parse_port(const char *text, int len, int *port)
{
	if (len <= 0 || len > 3)
		return -1;
	int value = 0;
	for (int i = 0; i < len; i++) {
		if (!isdigit((unsigned char)text[i]))
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	if (value < 1 || value > 255)
		return -1;
	*port = value;
	return 0;
}

/* One "name[:port]" of length len. */
static int parse_entry(const char *text, int len, struct spark_hca_filter *f, char *err,
		       int errlen)
{
	if (f->n == SPARK_MAX_HCAS) {
		snprintf(err, (size_t)errlen, "more than %d entries", SPARK_MAX_HCAS);
		return -1;
	}
	const char *colon = memchr(text, ':', (size_t)len);
	int name_len = colon != NULL ? (int)(colon - text) : len;
	if (!spark_hca_name_valid(text, name_len)) {
		snprintf(err, (size_t)errlen, "bad HCA name '%.*s'", len, text);
		return -1;
	}
	int port = -1;
	if (colon != NULL && parse_port(colon + 1, len - name_len - 1, &port) != 0) {
		snprintf(err, (size_t)errlen, "bad port in '%.*s' (1..255)", len, text);
		return -1;
	}
	memcpy(f->entry[f->n].name, text, (size_t)name_len);
	f->entry[f->n].name[name_len] = '\0';
	f->entry[f->n].port = port;
	f->n++;
	return 0;
}

int spark_hca_filter_parse(const char *text, struct spark_hca_filter *out, char *err, int errlen)
{
	memset(out, 0, sizeof *out);
	if (text == NULL || text[0] == '\0')
		return 0;
	if (*text == '^') {
		out->exclude = true;
		text++;
	}
	if (*text == '=') {
		out->exact = true;
		text++;
	}
	if (*text == '\0') {
		snprintf(err, (size_t)errlen, "no HCA listed");
		return -1;
	}
	while (1) {
		const char *comma = strchr(text, ',');
		int len = comma != NULL ? (int)(comma - text) : (int)strlen(text);
		if (parse_entry(text, len, out, err, errlen) != 0) {
			memset(out, 0, sizeof *out);
			return -1;
		}
		if (comma == NULL)
			break;
		text = comma + 1;
	}
	out->set = true;
	return 0;
}

bool spark_hca_filter_match(const struct spark_hca_filter *f, const char *name, int port)
{
	if (!f->set)
		return true;
	bool listed = false;
	for (int i = 0; i < f->n && !listed; i++) {
		const char *want = f->entry[i].name;
		bool name_ok = f->exact ? strcmp(name, want) == 0
					: strncmp(name, want, strlen(want)) == 0;
		listed = name_ok && (f->entry[i].port < 0 || f->entry[i].port == port);
	}
	return f->exclude ? !listed : listed;
}
