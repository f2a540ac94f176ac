/* Fixed-layout hexadecimal text from the system (PCI addresses, sysfs GUIDs),
 * parsed strictly. Pure. */
#ifndef SPARK_HEXFIELDS_H
#define SPARK_HEXFIELDS_H

/* Matches the start of text against pattern, in which each 'x' stands for
 * exactly one hex digit and every other character for itself; each run of
 * x's is one field, stored into fields[] in order (max of them at most).
 * No sign, "0x", blank or missing digit is accepted. Returns the number of
 * fields, or -1 when text does not match. What follows the pattern in text
 * is the caller's to check (it ends at text[strlen(pattern)]). */
int spark_hex_fields(const char *text, const char *pattern, unsigned long *fields, int max);

#endif
