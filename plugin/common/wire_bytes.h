/* Big-endian field access and the refusal idiom shared by the pure decoders
 * of wire.c (handle, handshake) and ctl.c (control frames): both formats
 * are byte strings, whatever the hosts' byte order. */
#ifndef SPARK_WIRE_BYTES_H
#define SPARK_WIRE_BYTES_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* Writes why a decode refused its input into reason[len]; returns -1. */
static inline int spark_refuse(char *reason, int len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int spark_refuse(char *reason, int len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, (size_t)len, fmt, ap);
	va_end(ap);
	return -1;
}

#endif
