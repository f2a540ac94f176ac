#include "sr.h"
#include <errno.h>
int sr_engine_start(void){ return 0; }
void sr_engine_stop(void){}
int sr_op_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc){(void)cq;(void)n;(void)wc;return -1;}
int sr_op_req_notify_cq(struct ibv_cq *cq, int s){(void)cq;(void)s;return EOPNOTSUPP;}
int sr_op_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad){(void)qp;*bad=wr;return EOPNOTSUPP;}
int sr_op_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad){(void)qp;*bad=wr;return EOPNOTSUPP;}
struct ibv_qp *sr_op_create_qp_ex(struct ibv_context *c, struct ibv_qp_init_attr_ex *a){(void)c;(void)a;errno=EOPNOTSUPP;return NULL;}
