/* spark-bench's command line. */
#ifndef SB_OPTIONS_H
#define SB_OPTIONS_H

#include "sb.h"

struct sb_opts {
	struct sb_plan plan;
	const char *peer;          /* client of two real hosts */
	bool server, emulated, softroce, csv;
	const char *softroce_dir, *plugin, *out;
	const char *hca[SB_MAX_HCAS];
	int port, listen_fd;
};

void sb_options(int argc, char **argv, struct sb_opts *o);

#endif
