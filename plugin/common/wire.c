#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hca_spec.h"
#include "wire_bytes.h"

#define HANDLE_MAGIC 0x5350484bu   /* "SPHK" */
#define MSG_MAGIC 0x5350434du      /* "SPCM" */
#define BYTE_ORDER_PROBE 0x01020304u

_Static_assert(SPARK_HANDLE_STAGE_OFF + 16 <= SPARK_HANDLE_SIZE, "handle scratch fits");


void spark_handle_encode(const struct spark_handle *h, uint8_t out[SPARK_HANDLE_SIZE])
{
	memset(out, 0, SPARK_HANDLE_SIZE);
	put32(out, HANDLE_MAGIC);
	put16(out + 4, SPARK_WIRE_VERSION);
	put16(out + 6, h->family);
	put16(out + 8, h->port);
	out[10] = h->nrails;
	memcpy(out + 12, h->addr, 16);
	put64(out + 32, h->nonce);
}

int spark_handle_decode(const uint8_t in[SPARK_HANDLE_SIZE], struct spark_handle *h,
			char *reason, int len)
{
	if (get32(in) != HANDLE_MAGIC)
		return spark_refuse(reason, len, "not a Spark handle (magic %#x)", get32(in));
	if (get16(in + 4) != SPARK_WIRE_VERSION)
		return spark_refuse(reason, len, "handle version %u, this plugin speaks %u", get16(in + 4),
			    SPARK_WIRE_VERSION);
	memset(h, 0, sizeof *h);
	h->family = get16(in + 6);
	h->port = get16(in + 8);
	h->nrails = in[10];
	memcpy(h->addr, in + 12, 16);
	h->nonce = get64(in + 32);
	if (h->family != 2 /* AF_INET */ && h->family != 10 /* AF_INET6 */)
		return spark_refuse(reason, len, "handle address family %u", h->family);
	if (h->port == 0)
		return spark_refuse(reason, len, "handle port 0");
	/* A listener's device fuses at most SPARK_MAX_RAILS rails: more is a
	 * corrupted handle, not a bigger peer (the connector also checks the
	 * count against the listener's REPLY). */
	if (h->nrails < 1 || h->nrails > SPARK_MAX_RAILS)
		return spark_refuse(reason, len, "handle rail count %u (1..%d)", h->nrails, SPARK_MAX_RAILS);
	if (h->family == 2)
		for (int i = 4; i < 16; i++)
			if (h->addr[i] != 0)
				return spark_refuse(reason, len, "IPv4 handle with address byte %d set", i);
	for (int i = 11; i < SPARK_HANDLE_PUBLIC; i++) {
		bool used = (i >= 12 && i < 28) || (i >= 32 && i < 40);
		if (!used && in[i] != 0)
			return spark_refuse(reason, len, "handle byte %d is %#x, not 0: corrupted", i, in[i]);
	}
	return 0;
}

enum { RAIL_SIZE = SPARK_RAIL_INFO_SIZE, HDR_SIZE = 32 };

void spark_rail_info_encode(const struct spark_rail_info *r, uint8_t *p)
{
	memset(p, 0, RAIL_SIZE);
	memcpy(p, r->name, strnlen(r->name, SPARK_NAME_LEN - 1));
	p += SPARK_NAME_LEN;
	memcpy(p, r->gid, 16);
	put32(p + 16, r->ipv4);
	put32(p + 20, r->prefix);
	put32(p + 24, r->qpn);
	put32(p + 28, r->psn);
	put32(p + 32, r->mtu);
	put32(p + 36, r->rkey);
	put64(p + 40, r->addr);
}

void spark_msg_encode(const struct spark_conn_msg *m, uint8_t out[SPARK_MSG_SIZE])
{
	uint32_t probe = BYTE_ORDER_PROBE;
	memset(out, 0, SPARK_MSG_SIZE);
	put32(out, MSG_MAGIC);
	put16(out + 4, SPARK_WIRE_VERSION);
	put16(out + 6, (uint16_t)m->kind);
	memcpy(out + 8, &probe, 4);      /* host order on purpose: see decode */
	put32(out + 12, m->nrails);
	put32(out + 16, m->rail_mask);
	for (uint32_t i = 0; i < SPARK_WIRE_MAX_RAILS; i++)   /* 0 = not kept */
		out[20 + i] = (m->rail_mask & (1u << i)) != 0 ? (uint8_t)(m->peer_rail[i] + 1) : 0;
	put64(out + 24, m->nonce);
	for (uint32_t i = 0; i < m->nrails && i < SPARK_WIRE_MAX_RAILS; i++)
		spark_rail_info_encode(&m->rail[i], out + HDR_SIZE + i * RAIL_SIZE);
}

static bool power_of_two_mtu(uint32_t mtu)
{
	return mtu >= 256 && mtu <= 4096 && (mtu & (mtu - 1)) == 0;
}

static bool gid_zero(const uint8_t gid[16])
{
	for (int i = 0; i < 16; i++)
		if (gid[i] != 0)
			return false;
	return true;
}

int spark_rail_info_decode(const uint8_t *p, uint32_t i, struct spark_rail_info *r,
			   char *reason, int len)
{
	size_t nlen = strnlen((const char *)p, SPARK_NAME_LEN);
	if (nlen == 0 || nlen == SPARK_NAME_LEN || !spark_hca_name_valid((const char *)p, (int)nlen))
		return spark_refuse(reason, len, "rail %u: malformed HCA name", i);
	/* Our encoder pads with zeros: anything else is corruption (and the
	 * frame would not re-encode to its own bytes). */
	for (size_t k = nlen + 1; k < SPARK_NAME_LEN; k++)
		if (p[k] != 0)
			return spark_refuse(reason, len, "rail %u: byte %zu after the HCA name is %#x, not 0",
				    i, k, p[k]);
	memcpy(r->name, p, nlen + 1);
	p += SPARK_NAME_LEN;
	memcpy(r->gid, p, 16);
	r->ipv4 = get32(p + 16);
	r->prefix = get32(p + 20);
	r->qpn = get32(p + 24);
	r->psn = get32(p + 28);
	r->mtu = get32(p + 32);
	r->rkey = get32(p + 36);
	r->addr = get64(p + 40);
	if (gid_zero(r->gid))
		return spark_refuse(reason, len, "rail %u (%s): zero GID", i, r->name);
	if (r->prefix > 32)
		return spark_refuse(reason, len, "rail %u (%s): subnet prefix /%u", i, r->name, r->prefix);
	if (r->qpn == 0 || r->qpn > 0xffffff)
		return spark_refuse(reason, len, "rail %u (%s): QPN %#x", i, r->name, r->qpn);
	if (r->psn > 0xffffff)
		return spark_refuse(reason, len, "rail %u (%s): PSN %#x beyond 24 bits", i, r->name, r->psn);
	if (!power_of_two_mtu(r->mtu))
		return spark_refuse(reason, len, "rail %u (%s): MTU %u", i, r->name, r->mtu);
	if (r->addr == 0)
		return spark_refuse(reason, len, "rail %u (%s): NULL buffer address", i, r->name);
	return 0;
}

static const char *kind_name(uint32_t k)
{
	switch (k) {
	case SPARK_MSG_HELLO: return "HELLO";
	case SPARK_MSG_REPLY: return "REPLY";
	case SPARK_MSG_READY: return "READY";
	default: return "unknown";
	}
}

static int header_decode(const uint8_t *in, enum spark_msg_kind want, uint64_t nonce,
			 struct spark_conn_msg *m, char *reason, int len)
{
	uint32_t probe;
	if (get32(in) != MSG_MAGIC)
		return spark_refuse(reason, len, "not a Spark handshake message (magic %#x)", get32(in));
	if (get16(in + 4) != SPARK_WIRE_VERSION)
		return spark_refuse(reason, len, "peer speaks version %u, we speak %u", get16(in + 4),
			    SPARK_WIRE_VERSION);
	if (get16(in + 6) != want)
		return spark_refuse(reason, len, "expected %s, got %s (%u)", kind_name(want),
			    kind_name(get16(in + 6)), get16(in + 6));
	memcpy(&probe, in + 8, 4);
	if (probe != BYTE_ORDER_PROBE)
		return spark_refuse(reason, len, "peer has the other byte order (probe %#x)", probe);
	m->kind = want;
	m->nrails = get32(in + 12);
	m->rail_mask = get32(in + 16);
	m->nonce = get64(in + 24);
	if (want != SPARK_MSG_REPLY && m->rail_mask != 0)
		return spark_refuse(reason, len, "%s with rail mask %#x", kind_name(want), m->rail_mask);
	if (m->nonce != nonce)
		return spark_refuse(reason, len, "nonce %#llx, expected %#llx: a stale or foreign peer",
			    (unsigned long long)m->nonce, (unsigned long long)nonce);
	return 0;
}

/* Bytes 20..23: per acceptor rail, the connector's rail + 1, 0 where the
 * rail is not kept; each connector rail at most once. */
static int pairing_decode(const uint8_t *in, struct spark_conn_msg *m, char *reason, int len)
{
	uint32_t seen = 0;
	for (uint32_t i = 0; i < SPARK_WIRE_MAX_RAILS; i++) {
		uint8_t b = in[20 + i];
		bool kept = (m->rail_mask & (1u << i)) != 0;
		if (!kept && b != 0)
			return spark_refuse(reason, len, "rail %u not kept but paired (%u)", i, b);
		if (!kept)
			continue;
		if (b < 1 || b > SPARK_WIRE_MAX_RAILS || (seen & (1u << (b - 1))))
			return spark_refuse(reason, len, "rail %u kept with pairing byte %u (1..%d, each once)",
				    i, b, SPARK_WIRE_MAX_RAILS);
		seen |= 1u << (b - 1);
		m->peer_rail[i] = (uint8_t)(b - 1);
	}
	return 0;
}

int spark_msg_decode(const uint8_t in[SPARK_MSG_SIZE], enum spark_msg_kind want,
		     uint64_t nonce, struct spark_conn_msg *m, char *reason, int len)
{
	memset(m, 0, sizeof *m);
	if (header_decode(in, want, nonce, m, reason, len) != 0 ||
	    pairing_decode(in, m, reason, len) != 0)
		return -1;
	if (want == SPARK_MSG_READY)
		return 0;
	if (m->nrails < 1 || m->nrails > SPARK_WIRE_MAX_RAILS)
		return spark_refuse(reason, len, "rail count %u (1..%d)", m->nrails, SPARK_WIRE_MAX_RAILS);
	if (want == SPARK_MSG_REPLY && (m->rail_mask >> m->nrails) != 0)
		return spark_refuse(reason, len, "rail mask %#x for %u rails", m->rail_mask, m->nrails);
	for (uint32_t i = 0; i < m->nrails; i++) {
		/* A HELLO and a refusal (mask 0) describe every rail. */
		bool described = want == SPARK_MSG_HELLO || m->rail_mask == 0 ||
				 (m->rail_mask & (1u << i));
		if (described &&
		    spark_rail_info_decode(in + HDR_SIZE + i * RAIL_SIZE, i, &m->rail[i], reason, len) != 0)
			return -1;
	}
	return 0;
}

/* ---- range checks (wire.h): the WARN text of a fault ---- */
void spark_wire_fault_str(const struct spark_wire_fault *f, char *buf, int len)
{
	char idx[16] = "";
	if (f->index >= 0)
		snprintf(idx, sizeof idx, "[%d]", f->index);
	bool relation = f->rule[0] != '\0' && strchr("=!<>", f->rule[0]) != NULL;
	if (relation)
		snprintf(buf, (size_t)len, "%s%s = %llu (%#llx), must be %s %llu", f->field, idx,
			 (unsigned long long)f->value, (unsigned long long)f->value, f->rule,
			 (unsigned long long)f->bound);
	else
		snprintf(buf, (size_t)len, "%s%s = %llu %s", f->field, idx,
			 (unsigned long long)f->value, f->rule);
}

/* The named forms of wire.h's data-path checks (same answers). */
bool spark_cts_check(const struct spark_cts_entry *e, uint64_t seq, uint32_t key_rails,
		     struct spark_wire_fault *f)
{
	uint32_t n = e[0].nreqs;
	if (n < 1)
		return spark_wire_fail(f, "cts.nreqs", 0, ">=", n, 1);
	if (n > SPARK_MAX_RECVS)
		return spark_wire_fail(f, "cts.nreqs", 0, "<=", n, SPARK_MAX_RECVS);
	for (uint32_t i = 0; i < n; i++) {
		const struct spark_cts_entry *x = &e[i];
		if (x->seq != seq)
			return spark_wire_fail(f, "cts.seq", (int)i, "==", x->seq, seq);
		if (x->nreqs != n)
			return spark_wire_fail(f, "cts.nreqs", (int)i, "==", x->nreqs, n);
		if (x->size == 0)
			continue;
		if (x->addr == 0)
			return spark_wire_fail(f, "cts.addr", (int)i, "!=", 0, 0);
		if (x->size > UINT64_MAX - x->addr)
			return spark_wire_fail(f, "cts.size", (int)i, "<=", x->size,
					       UINT64_MAX - x->addr);
		for (uint32_t m = key_rails; m != 0; m &= m - 1) {
			uint32_t r = (uint32_t)__builtin_ctz(m);
			if (r >= SPARK_WIRE_MAX_RAILS)
				return spark_wire_fail(f, "cts.rkey (rail)", (int)i, "<", r,
						       SPARK_WIRE_MAX_RAILS);
			if (x->rkey[r] == 0)
				return spark_wire_fail(f, "cts.rkey", (int)i, "!=", 0, 0);
		}
	}
	return true;
}

bool spark_imm_check(const struct spark_imm *imm, const struct spark_imm_expect *x,
		     struct spark_wire_fault *f)
{
	if (x->nbufs == 0)
		return spark_wire_fail(f, "imm.slot", -1, "has no receive outstanding",
				       imm->slot, 0);
	if (imm->share >= x->nrails)
		return spark_wire_fail(f, "imm.share", -1, "<", imm->share, x->nrails);
	if (imm->nshares > x->nrails)
		return spark_wire_fail(f, "imm.nshares", -1, "<=", imm->nshares, x->nrails);
	if (x->nshares != 0 && imm->nshares != x->nshares)
		return spark_wire_fail(f, "imm.nshares (another share said)", -1, "==",
				       imm->nshares, x->nshares);
	if (x->nshares != 0 && imm->size != x->size)
		return spark_wire_fail(f, "imm.size (another share said)", -1, "==", imm->size,
				       x->size);
	if (imm->size == SPARK_IMM_IN_RECORD)
		return true;
	if (x->nbufs != 1)
		return spark_wire_fail(f, "imm.size (a group's sizes are in the record)", -1, "==",
				       imm->size, SPARK_IMM_IN_RECORD);
	if ((int64_t)imm->size > x->posted)
		return spark_wire_fail(f, "imm.size", -1, "<=", imm->size, (uint64_t)x->posted);
	return true;
}

