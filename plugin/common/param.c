#include "param.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

enum kind { K_INT, K_BOOL, K_SIZE, K_ENUM, K_HCA, K_PAIRS };

struct param_def {
	const char *name;
	enum kind kind;
	size_t offset;          /* field in struct spark_params */
	long def, min, max;     /* K_INT, K_BOOL, K_SIZE, K_ENUM */
	long align;             /* K_SIZE: the value must be a multiple */
	const char *const *choices; /* K_ENUM, indexed by value */
	const char *form;       /* accepted form, quoted in the WARN */
	bool data_path;         /* read by the data path */
};

static const char *const pci_path_choices[] = {"auto", "rail0", "none", NULL};

#define FIELD(f) offsetof(struct spark_params, f)

static const struct param_def table[] = {
	{"NCCL_SPARK_HCA", K_HCA, FIELD(hca), 0, 0, 0, 0, NULL, SPARK_HCA_FILTER_FORM, false},
	{"NCCL_SPARK_PAIRS", K_PAIRS, FIELD(pairs), 0, 0, 0, 0, NULL, SPARK_PAIRS_FORM, false},
	{"NCCL_SPARK_GID_INDEX", K_INT, FIELD(gid_index), -1, -1, 255, 0, NULL,
	 "-1 (automatic) or a GID table index 0..255", false},
	{"NCCL_SPARK_PCI_PATH", K_ENUM, FIELD(pci_path), SPARK_PCI_PATH_AUTO, 0, 2, 0,
	 pci_path_choices, "auto, rail0 or none", false},
	{"NCCL_SPARK_MLX5DV", K_BOOL, FIELD(mlx5dv), 1, 0, 1, 0, NULL, "0 or 1", false},
	{"NCCL_SPARK_MIN_STRIPE", K_SIZE, FIELD(min_stripe), 32768, 128, 1L << 30, 128, NULL,
	 "bytes, a multiple of 128 from 128 to 1G, with an optional K/M/G suffix", true},
	{"NCCL_SPARK_ADAPTIVE_WEIGHTS", K_BOOL, FIELD(adaptive_weights), 1, 0, 1, 0, NULL,
	 "0 or 1", true},
	{"NCCL_SPARK_IB_TIMEOUT", K_INT, FIELD(ib_timeout), 20, 1, 31, 0, NULL,
	 "an integer 1..31 (4.096 us x 2^value)", true},
	{"NCCL_SPARK_IB_RETRY_CNT", K_INT, FIELD(ib_retry_cnt), 7, 0, 7, 0, NULL,
	 "an integer 0..7", true},
	{"NCCL_SPARK_IB_TC", K_INT, FIELD(ib_tc), 0, 0, 255, 0, NULL, "an integer 0..255", true},
	{"NCCL_SPARK_IB_SL", K_INT, FIELD(ib_sl), 0, 0, 15, 0, NULL, "an integer 0..15", true},
	/* At least 2 s: a peer heartbeats every min(1 s, its timeout / 4). */
	{"NCCL_SPARK_PEER_TIMEOUT", K_INT, FIELD(peer_timeout), 30, 2, 3600, 0, NULL,
	 "seconds, an integer 2..3600", true},
	/* On: a lost rail's shares are re-sent only where the receiver confirmed
	 * it lacks them (docs/design.md, "Losing a rail"), so a rail that comes
	 * back can no longer carry a re-sent copy over a reused buffer. */
	{"NCCL_SPARK_FAILBACK", K_BOOL, FIELD(failback), 1, 0, 1, 0, NULL, "0 or 1", true},
};

#define NPARAMS ((int)(sizeof table / sizeof table[0]))

int spark_param_count(void) { return NPARAMS; }
const char *spark_param_name(int i) { return table[i].name; }
bool spark_param_is_data_path(int i) { return table[i].data_path; }

int spark_parse_long(const char *text, long *out)
{
	char *end;
	if (text == NULL || *text == '\0' || isspace((unsigned char)*text))
		return -1;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = value;
	return 0;
}

int spark_parse_bool(const char *text, int *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) { *out = 1; return 0; }
		if (strcasecmp(text, no[i]) == 0) { *out = 0; return 0; }
	}
	return -1;
}

int spark_parse_size(const char *text, long *out)
{
	char *end;
	if (text == NULL || !isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0)
		return -1;
	int shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -1;
	}
	if (*end != '\0' || value > (0x7fffffffffffffffL >> shift))
		return -1;
	*out = value << shift;
	return 0;
}

static const char *env_lookup(const char *const *env, const char *name)
{
	size_t len = strlen(name);
	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

static int parse_enum(const struct param_def *d, const char *text, long *out)
{
	for (long i = 0; d->choices[i] != NULL; i++)
		if (strcasecmp(text, d->choices[i]) == 0) { *out = i; return 0; }
	return -1;
}

/* Parses one value into p; 0 on success, -1 with a reason in err. */
static int parse_one(const struct param_def *d, const char *text, struct spark_params *p,
		     char *err, int errlen)
{
	char *field = (char *)p + d->offset;
	long value = 0;
	int flag;
	switch (d->kind) {
	case K_HCA:
		return spark_hca_filter_parse(text, (struct spark_hca_filter *)field, err, errlen);
	case K_PAIRS:
		return spark_pairs_parse(text, (struct spark_pairs *)field, err, errlen);
	case K_BOOL:
		if (spark_parse_bool(text, &flag) != 0)
			return snprintf(err, (size_t)errlen, "not a boolean"), -1;
		value = flag;
		break;
	case K_ENUM:
		if (parse_enum(d, text, &value) != 0)
			return snprintf(err, (size_t)errlen, "unknown choice"), -1;
		break;
	case K_INT:
		if (spark_parse_long(text, &value) != 0)
			return snprintf(err, (size_t)errlen, "not an integer"), -1;
		break;
	case K_SIZE:
		if (spark_parse_size(text, &value) != 0)
			return snprintf(err, (size_t)errlen, "not a size"), -1;
		if (value % d->align != 0)
			return snprintf(err, (size_t)errlen, "not a multiple of %ld", d->align), -1;
		break;
	}
	if (value < d->min || value > d->max)
		return snprintf(err, (size_t)errlen, "out of range"), -1;
	if (d->kind == K_SIZE)
		*(long *)field = value;
	else
		*(int *)field = (int)value;
	return 0;
}

static void set_default(const struct param_def *d, struct spark_params *p)
{
	char *field = (char *)p + d->offset;
	switch (d->kind) {
	case K_HCA: memset(field, 0, sizeof(struct spark_hca_filter)); break;
	case K_PAIRS: memset(field, 0, sizeof(struct spark_pairs)); break;
	case K_SIZE: *(long *)field = d->def; break;
	default: *(int *)field = (int)d->def; break;
	}
}

void spark_params_defaults(struct spark_params *p)
{
	memset(p, 0, sizeof *p);
	for (int i = 0; i < NPARAMS; i++)
		set_default(&table[i], p);
}

static bool known_name(const char *entry)
{
	for (int i = 0; i < NPARAMS; i++) {
		size_t len = strlen(table[i].name);
		if (strncmp(entry, table[i].name, len) == 0 && entry[len] == '=')
			return true;
	}
	return false;
}

int spark_params_load(struct spark_params *p, const char *const *env)
{
	int rejected = 0;
	spark_params_defaults(p);
	for (int i = 0; i < NPARAMS; i++) {
		const struct param_def *d = &table[i];
		const char *text = env_lookup(env, d->name);
		if (text == NULL)
			continue;
		char err[160] = "";
		if (parse_one(d, text, p, err, sizeof err) == 0) {
			SPARK_INFO(NCCL_INIT | NCCL_ENV, "%s set by environment to %s", d->name, text);
			continue;
		}
		set_default(d, p);
		SPARK_WARN("%s='%s' ignored (%s); accepted: %s. Using the default.", d->name, text,
			   err, d->form);
		rejected++;
	}
	for (; env != NULL && *env != NULL; env++) {
		if (strncmp(*env, "NCCL_SPARK_", 11) == 0 && !known_name(*env)) {
			SPARK_WARN("unknown variable %.*s ignored (see docs/configuration.md)",
				   (int)strcspn(*env, "="), *env);
			rejected++;
		}
	}
	return rejected;
}

void spark_params_log(const struct spark_params *p)
{
	SPARK_INFO(NCCL_INIT | NCCL_ENV,
		   "config: HCA=%s PAIRS=%s GID_INDEX=%d PCI_PATH=%s MLX5DV=%d MIN_STRIPE=%ld "
		   "ADAPTIVE_WEIGHTS=%d IB_TIMEOUT=%d IB_RETRY_CNT=%d IB_TC=%d IB_SL=%d "
		   "PEER_TIMEOUT=%d FAILBACK=%d",
		   p->hca.set ? "(filter)" : "(all)", p->pairs.set ? "(explicit)" : "(auto)",
		   p->gid_index, pci_path_choices[p->pci_path], p->mlx5dv, p->min_stripe,
		   p->adaptive_weights, p->ib_timeout, p->ib_retry_cnt, p->ib_tc, p->ib_sl,
		   p->peer_timeout, p->failback);
}
