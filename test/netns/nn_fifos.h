/* The pipes of a dp_pair made of two FIFOs the caller created in DIR (a2b,
 * b2a): the two hosts of a netns check are separate processes started by
 * the script, not a fork of each other. */
#ifndef NN_FIFOS_H
#define NN_FIFOS_H

#include "dp_harness.h"

void nn_open_fifos(struct dp_pair *p, const char *dir, bool is_b);

#endif
