/* The list of findings and the exit status they give. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netcheck.h"

void nc_add(struct nc_report *r, const char *id, enum nc_severity sev, const char *subject,
	    const char *fix, const char *cause_fmt, ...)
{
	if (r->n >= NC_MAX_FINDINGS)
		return;
	struct nc_finding *f = &r->f[r->n++];
	memset(f, 0, sizeof *f);
	snprintf(f->id, sizeof f->id, "%s", id);
	f->severity = sev;
	snprintf(f->subject, sizeof f->subject, "%s", subject != NULL ? subject : "");
	snprintf(f->fix, sizeof f->fix, "%s", fix);
	va_list ap;
	va_start(ap, cause_fmt);
	vsnprintf(f->cause, sizeof f->cause, cause_fmt, ap);
	va_end(ap);
}

int nc_exit_status(const struct nc_report *r)
{
	int worst = 0;
	for (int i = 0; i < r->n; i++)
		if ((int)r->f[i].severity > worst)
			worst = (int)r->f[i].severity;
	return worst;
}

const char *nc_severity_name(enum nc_severity s)
{
	switch (s) {
	case NC_NOTE: return "note";
	case NC_BANDWIDTH: return "bandwidth";
	case NC_FATAL: return "fatal";
	}
	return "?";
}
