/* failback.h's channel: the bootstrap socket's control frames (ctl.h, the
 * liveness layer). Without it a comm never rejoins a rail (it carries on
 * over the survivor), and failover still works. */
#include "failback.h"

bool spark_fb_available(const struct spark_comm *c)
{
	(void)c;
	return false;
}

ncclResult_t spark_fb_send(struct spark_comm *c, const struct spark_fb_frame *f)
{
	(void)c; (void)f;
	return ncclInternalError;
}

const char *spark_fb_kind_name(enum spark_fb_kind k)
{
	switch (k) {
	case SPARK_FB_RAIL_DOWN: return "RAIL_DOWN";
	case SPARK_FB_REJOIN: return "REJOIN";
	case SPARK_FB_REJOIN_ACK: return "REJOIN_ACK";
	case SPARK_FB_REJOIN_DONE: return "REJOIN_DONE";
	case SPARK_FB_REJOIN_NAK: return "REJOIN_NAK";
	}
	return "?";
}
