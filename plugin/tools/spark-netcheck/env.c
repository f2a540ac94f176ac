/* The NCCL environment a job on this host would see: NCCL reads
 * NCCL_CONF_FILE (or ~/.nccl.conf when unset), then /etc/nccl.conf, and a
 * line sets its variable only when it is not set yet (setenv without
 * overwrite), so the process environment wins over both files. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcheck.h"

extern char **environ;

const char *nc_env_get(const struct nc_env *e, const char *name, const char **origin)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->v[i].name, name) == 0) {
			if (origin != NULL)
				*origin = e->v[i].origin;
			return e->v[i].value;
		}
	return NULL;
}

static void add(struct nc_env *e, const char *name, int name_len, const char *value,
		const char *origin)
{
	if (e->n >= NC_MAX_ENV || name_len <= 0 || name_len >= (int)sizeof e->v[0].name)
		return;
	char key[sizeof e->v[0].name];
	snprintf(key, sizeof key, "%.*s", name_len, name);
	if (nc_env_get(e, key, NULL) != NULL)
		return; /* set earlier: NCCL keeps the first */
	snprintf(e->v[e->n].name, sizeof e->v[0].name, "%s", key);
	snprintf(e->v[e->n].value, sizeof e->v[0].value, "%s", value);
	snprintf(e->v[e->n].origin, sizeof e->v[0].origin, "%s", origin);
	e->n++;
}

/* NAME=VALUE lines, '#' comments, as NCCL parses them. */
static void load_file(struct nc_env *e, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		const char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		add(e, line, (int)(eq - line), eq + 1, path);
	}
	fclose(f);
}

void nc_env_load(struct nc_env *e, const struct nc_paths *paths)
{
	memset(e, 0, sizeof *e);
	for (char **v = environ; v != NULL && *v != NULL; v++) {
		const char *eq = strchr(*v, '=');
		if (eq != NULL && strncmp(*v, "NCCL_", 5) == 0)
			add(e, *v, (int)(eq - *v), eq + 1, "environment");
	}
	load_file(e, paths->user_conf);
	load_file(e, paths->etc_conf);
}
