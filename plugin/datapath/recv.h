/* The receive side: irecv writes clear-to-send entries into the sender's
 * FIFO, counts the IMMs each rail delivers for a request, and completes it
 * when every share is in (sizes from the IMM, or from the record for grouped
 * receives); after a rail failure it re-posts that rail's CTS. */
#ifndef SPARK_RECV_H
#define SPARK_RECV_H

#include "comm.h"
#include "engine.h"

enum spark_rreq_state { RREQ_FREE = 0, RREQ_POSTED, RREQ_DONE };

struct spark_recv_req {
	struct spark_req_hdr hdr;
	enum spark_rreq_state state;
	uint64_t seq;
	uint32_t n;
	uint32_t shares;                        /* rails' shares delivered (bit mask) */
	uint32_t cts_rail;                      /* where its CTS went */
	uint32_t nshares;                       /* announced by its first IMM; 0: none yet */
	uint32_t imm_size;                      /* that IMM's size field */
	bool record;                            /* sizes are in the record */
	int32_t sizes[SPARK_MAX_RECVS];         /* from the IMM or the record */
	int64_t posted[SPARK_MAX_RECVS];
	int tags[SPARK_MAX_RECVS];
};

extern const struct spark_wc_ops spark_recv_ops;
ncclResult_t spark_recv_test(struct spark_recv_req *req, int *done, int *sizes);
/* For RESEND after a rail was lost (its QP in ERR, its CQ drained): the
 * lowest receive not complete (or the next to post), and from it on the
 * shares each posted receive has (a complete one: every share). */
void spark_recv_shares(const struct spark_comm *c, struct spark_ctl_resend *out);
/* closeRecv's last look at the ports and the peer's frames (see recv.c). */
void spark_recv_last_look(struct spark_comm *c);

#endif
