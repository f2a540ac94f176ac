#include "hexfields.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* digits hex digits (already checked to be digits) → value, with strtoul's
 * own end and range checks kept: a field wider than unsigned long fails. */
static bool field_value(const char *text, size_t digits, unsigned long *out)
{
	char field[2 * sizeof(unsigned long) + 1];
	if (digits >= sizeof field)
		return false;
	memcpy(field, text, digits);
	field[digits] = '\0';
	char *end;
	errno = 0;
	unsigned long value = strtoul(field, &end, 16);
	if (end != field + digits || errno == ERANGE)
		return false;
	*out = value;
	return true;
}

int spark_hex_fields(const char *text, const char *pattern, unsigned long *fields, int max)
{
	int nfields = 0;
	size_t i = 0;
	/* text[i] is read only while text[0..i-1] matched, so a short text
	 * stops at its NUL (which matches neither a digit nor a pattern char). */
	while (pattern[i] != '\0') {
		if (pattern[i] != 'x') {
			if (text[i] != pattern[i])
				return -1;
			i++;
			continue;
		}
		size_t start = i;
		for (; pattern[i] == 'x'; i++)
			if (!isxdigit((unsigned char)text[i]))
				return -1;
		if (nfields == max || !field_value(text + start, i - start, &fields[nfields]))
			return -1;
		nfields++;
	}
	return nfields;
}
