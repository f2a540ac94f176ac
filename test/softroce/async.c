/* softroce: async events on a real file descriptor (context->async_fd). */
#include "sr.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void sr_async_push(struct sr_ctx *ctx, enum ibv_event_type type, void *elem)
{
	struct sr_async_ev ev = { .type = (uint32_t)type, .elem = elem };
	if (write(ctx->async_wr, &ev, sizeof(ev)) != sizeof(ev))
		sr_log("async event %d lost (queue full)", (int)type);
}

SR_EXPORT int ibv_get_async_event(struct ibv_context *ctx, struct ibv_async_event *event)
{
	struct sr_async_ev ev;
	ssize_t r = read(ctx->async_fd, &ev, sizeof(ev));
	if (r != sizeof(ev))
		return -1;
	memset(event, 0, sizeof(*event));
	event->event_type = (enum ibv_event_type)ev.type;
	switch (event->event_type) {
	case IBV_EVENT_CQ_ERR:
		event->element.cq = ev.elem;
		break;
	case IBV_EVENT_PORT_ACTIVE:
	case IBV_EVENT_PORT_ERR:
	case IBV_EVENT_LID_CHANGE:
	case IBV_EVENT_PKEY_CHANGE:
	case IBV_EVENT_SM_CHANGE:
	case IBV_EVENT_CLIENT_REREGISTER:
	case IBV_EVENT_GID_CHANGE:
		event->element.port_num = 1;
		break;
	case IBV_EVENT_DEVICE_FATAL:
		break;
	default:
		event->element.qp = ev.elem;
		break;
	}
	return 0;
}

SR_EXPORT void ibv_ack_async_event(struct ibv_async_event *event)
{
	(void)event;
}
