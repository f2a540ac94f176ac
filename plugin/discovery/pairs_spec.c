#include "pairs_spec.h"

#include <stdio.h>
#include <string.h>

#include "hca_spec.h"

static bool already_named(const struct spark_pairs *p, const char *name)
{
	for (int d = 0; d < p->n; d++)
		for (int r = 0; r < p->dev[d].nrails; r++)
			if (strcmp(p->dev[d].name[r], name) == 0)
				return true;
	return false;
}

/* One "a[+b]" group of length len. */
static int parse_group(const char *text, int len, struct spark_pairs *p, char *err, int errlen)
{
	if (p->n == SPARK_MAX_DEVS) {
		snprintf(err, (size_t)errlen, "more than %d devices", SPARK_MAX_DEVS);
		return -1;
	}
	int nrails = 0;
	const char *end = text + len;
	while (1) {
		const char *plus = memchr(text, '+', (size_t)(end - text));
		int name_len = plus != NULL ? (int)(plus - text) : (int)(end - text);
		if (nrails == SPARK_MAX_RAILS) {
			snprintf(err, (size_t)errlen, "at most %d HCAs per device", SPARK_MAX_RAILS);
			return -1;
		}
		if (!spark_hca_name_valid(text, name_len)) {
			snprintf(err, (size_t)errlen, "bad HCA name '%.*s'", name_len, text);
			return -1;
		}
		char *dst = p->dev[p->n].name[nrails];
		memcpy(dst, text, (size_t)name_len);
		dst[name_len] = '\0';
		if (already_named(p, dst) ||
		    (nrails == 1 && strcmp(dst, p->dev[p->n].name[0]) == 0)) {
			snprintf(err, (size_t)errlen, "HCA '%s' named twice", dst);
			return -1;
		}
		nrails++;
		if (plus == NULL)
			break;
		text = plus + 1;
	}
	p->dev[p->n].nrails = nrails;
	p->n++;
	return 0;
}

int spark_pairs_parse(const char *text, struct spark_pairs *out, char *err, int errlen)
{
	memset(out, 0, sizeof *out);
	if (text == NULL || text[0] == '\0')
		return 0;
	while (1) {
		const char *comma = strchr(text, ',');
		int len = comma != NULL ? (int)(comma - text) : (int)strlen(text);
		if (parse_group(text, len, out, err, errlen) != 0) {
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
