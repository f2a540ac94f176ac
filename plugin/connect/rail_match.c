#include "rail_match.h"

#include <stdio.h>
#include <string.h>

#include "gid.h"

bool spark_rails_reach(const struct spark_rail_info *a, const struct spark_rail_info *b)
{
	if (a->ipv4 != 0 && b->ipv4 != 0)
		return spark_ipv4_same_subnet(a->ipv4, (int)a->prefix, b->ipv4, (int)b->prefix);
	return memcmp(a->gid, b->gid, 8) == 0; /* IPv6: the /64 */
}

/* At most 4 x 4 rails: every injective partial assignment is tried (209 of
 * them), which keeps the rule simple to state and always finds the most
 * pairs. A score orders them: pairs, then same names, then same positions. */
struct search {
	const struct spark_rail_info *local, *peer;
	uint32_t nlocal, npeer;
	bool reach[SPARK_WIRE_MAX_RAILS][SPARK_WIRE_MAX_RAILS];
	uint8_t cur[SPARK_WIRE_MAX_RAILS];
	uint32_t best_score;
	struct spark_rail_match *best;
};

static uint32_t score(const struct search *s)
{
	uint32_t pairs = 0, names = 0, places = 0;
	for (uint32_t i = 0; i < s->nlocal; i++) {
		uint8_t j = s->cur[i];
		if (j == SPARK_RAIL_NONE)
			continue;
		pairs++;
		names += strcmp(s->local[i].name, s->peer[j].name) == 0;
		places += j == i;
	}
	return pairs << 16 | names << 8 | places;
}

static void keep_if_better(struct search *s)
{
	uint32_t v = score(s);
	if (v <= s->best_score)   /* no pair at all scores 0; ties keep the first */
		return;
	s->best_score = v;
	s->best->mask = 0;
	s->best->nmatched = 0;
	for (uint32_t i = 0; i < SPARK_WIRE_MAX_RAILS; i++) {
		s->best->peer[i] = i < s->nlocal ? s->cur[i] : (uint8_t)SPARK_RAIL_NONE;
		if (s->best->peer[i] != SPARK_RAIL_NONE) {
			s->best->mask |= 1u << i;
			s->best->nmatched++;
		}
	}
}

static void search_from(struct search *s, uint32_t i, uint32_t taken)
{
	if (i == s->nlocal) {
		keep_if_better(s);
		return;
	}
	for (uint32_t j = 0; j < s->npeer; j++) {
		if ((taken & (1u << j)) || !s->reach[i][j])
			continue;
		s->cur[i] = (uint8_t)j;
		search_from(s, i + 1, taken | 1u << j);
	}
	s->cur[i] = SPARK_RAIL_NONE;
	search_from(s, i + 1, taken);
}

void spark_rails_match(const struct spark_rail_info *local, uint32_t nlocal,
		       const struct spark_rail_info *peer, uint32_t npeer,
		       struct spark_rail_match *out)
{
	struct search s = {.local = local, .peer = peer, .best = out};
	s.nlocal = nlocal < SPARK_WIRE_MAX_RAILS ? nlocal : SPARK_WIRE_MAX_RAILS;
	s.npeer = npeer < SPARK_WIRE_MAX_RAILS ? npeer : SPARK_WIRE_MAX_RAILS;
	memset(out, 0, sizeof *out);
	memset(out->peer, SPARK_RAIL_NONE, sizeof out->peer);
	for (uint32_t i = 0; i < s.nlocal; i++)
		for (uint32_t j = 0; j < s.npeer; j++)
			s.reach[i][j] = spark_rails_reach(&local[i], &peer[j]);
	search_from(&s, 0, 0);
}

void spark_rails_format(const struct spark_rail_info *rails, uint32_t n, char *buf, int len)
{
	int used = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n && i < SPARK_WIRE_MAX_RAILS && used < len; i++) {
		char net[40];
		if (rails[i].ipv4 != 0)
			spark_ipv4_format(rails[i].ipv4, (int)rails[i].prefix, net, sizeof net);
		else
			snprintf(net, sizeof net, "(no IPv4)");
		used += snprintf(buf + used, (size_t)(len - used), "%s%s %s", i > 0 ? ", " : "",
				 rails[i].name, net);
	}
}
