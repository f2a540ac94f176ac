#define _GNU_SOURCE
#include "nn_fifos.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

void nn_open_fifos(struct dp_pair *p, const char *dir, bool is_b)
{
	char ab[300], ba[300];
	snprintf(ab, sizeof ab, "%s/a2b", dir);
	snprintf(ba, sizeof ba, "%s/b2a", dir);
	memset(p, 0, sizeof *p);
	p->pipe_ab[0] = p->pipe_ab[1] = p->pipe_ba[0] = p->pipe_ba[1] = -1;
	p->is_b = is_b;
	/* Both open a2b first: each open of a FIFO waits for the other end. */
	if (is_b) {
		p->pipe_ab[0] = open(ab, O_RDONLY | O_CLOEXEC);
		p->pipe_ba[1] = open(ba, O_WRONLY | O_CLOEXEC);
	} else {
		p->pipe_ab[1] = open(ab, O_WRONLY | O_CLOEXEC);
		p->pipe_ba[0] = open(ba, O_RDONLY | O_CLOEXEC);
	}
	DP_CHECK(p->pipe_ab[is_b ? 0 : 1] >= 0 && p->pipe_ba[is_b ? 1 : 0] >= 0,
		 "FIFOs in %s: %s", dir, strerror(errno));
}
