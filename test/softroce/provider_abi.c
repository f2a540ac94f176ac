/* softroce: the exported symbols of libibverbs.so.1 that exist for others
 * than applications, present so that programs linked against rdma-core's
 * library load (bind-now) against softroce's:
 *  - IBVERBS_PRIVATE_34, the provider interface (ibv_cmd_*, verbs_*):
 *    libefa/libmlx5 and librdmacm bind it.  softroce instantiates no
 *    provider, so a registration is ignored and a command fails with ENOSYS,
 *    as a kernel without the uverbs command would answer.
 *  - the IBVERBS_1.0 compatibility entries (struct layouts of libibverbs
 *    1.0, 2006) and ibv_register_driver@IBVERBS_1.1: not modelled; they
 *    fail with ENOSYS.
 * The stubs take no parameters: a non-variadic caller's arguments are
 * ignored safely, and __verbs_log's variadic ones are never read. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_EXPORT __attribute__((visibility("default")))

#define SR_ENOSYS(name) \
	SR_EXPORT int name(void); \
	int name(void) { errno = ENOSYS; return ENOSYS; }
#define SR_MINUS1(name) \
	SR_EXPORT int name(void); \
	int name(void) { errno = ENOSYS; return -1; }
#define SR_NULL(name) \
	SR_EXPORT void *name(void); \
	void *name(void) { errno = ENOSYS; return NULL; }
#define SR_NOTHING(name) \
	SR_EXPORT void name(void); \
	void name(void) { }

/* Old-ABI entries: a local function bound to name@VERSION. */
#define SR_COMPAT(kind, name, ver) \
	kind(sr_compat_##name) \
	__asm__(".symver sr_compat_" #name ", " #name "@" ver);

SR_ENOSYS(ibv_cmd_advise_mr)
SR_ENOSYS(ibv_cmd_alloc_dm)
SR_ENOSYS(ibv_cmd_alloc_mw)
SR_ENOSYS(ibv_cmd_alloc_pd)
SR_ENOSYS(ibv_cmd_attach_mcast)
SR_ENOSYS(ibv_cmd_close_xrcd)
SR_ENOSYS(ibv_cmd_create_ah)
SR_ENOSYS(ibv_cmd_create_counters)
SR_ENOSYS(ibv_cmd_create_cq)
SR_ENOSYS(ibv_cmd_create_cq_ex)
SR_ENOSYS(ibv_cmd_create_flow)
SR_ENOSYS(ibv_cmd_create_flow_action_esp)
SR_ENOSYS(ibv_cmd_create_qp)
SR_ENOSYS(ibv_cmd_create_qp_ex)
SR_ENOSYS(ibv_cmd_create_qp_ex2)
SR_ENOSYS(ibv_cmd_create_rwq_ind_table)
SR_ENOSYS(ibv_cmd_create_srq)
SR_ENOSYS(ibv_cmd_create_srq_ex)
SR_ENOSYS(ibv_cmd_create_wq)
SR_ENOSYS(ibv_cmd_dealloc_mw)
SR_ENOSYS(ibv_cmd_dealloc_pd)
SR_ENOSYS(ibv_cmd_dereg_mr)
SR_ENOSYS(ibv_cmd_destroy_ah)
SR_ENOSYS(ibv_cmd_destroy_counters)
SR_ENOSYS(ibv_cmd_destroy_cq)
SR_ENOSYS(ibv_cmd_destroy_flow)
SR_ENOSYS(ibv_cmd_destroy_flow_action)
SR_ENOSYS(ibv_cmd_destroy_qp)
SR_ENOSYS(ibv_cmd_destroy_rwq_ind_table)
SR_ENOSYS(ibv_cmd_destroy_srq)
SR_ENOSYS(ibv_cmd_destroy_wq)
SR_ENOSYS(ibv_cmd_detach_mcast)
SR_ENOSYS(ibv_cmd_free_dm)
SR_ENOSYS(ibv_cmd_get_context)
SR_ENOSYS(ibv_cmd_modify_cq)
SR_ENOSYS(ibv_cmd_modify_flow_action_esp)
SR_ENOSYS(ibv_cmd_modify_qp)
SR_ENOSYS(ibv_cmd_modify_qp_ex)
SR_ENOSYS(ibv_cmd_modify_srq)
SR_ENOSYS(ibv_cmd_modify_wq)
SR_ENOSYS(ibv_cmd_open_qp)
SR_ENOSYS(ibv_cmd_open_xrcd)
SR_ENOSYS(ibv_cmd_poll_cq)
SR_ENOSYS(ibv_cmd_post_recv)
SR_ENOSYS(ibv_cmd_post_send)
SR_ENOSYS(ibv_cmd_post_srq_recv)
SR_ENOSYS(ibv_cmd_query_context)
SR_ENOSYS(ibv_cmd_query_device_any)
SR_ENOSYS(ibv_cmd_query_mr)
SR_ENOSYS(ibv_cmd_query_port)
SR_ENOSYS(ibv_cmd_query_qp)
SR_ENOSYS(ibv_cmd_query_srq)
SR_ENOSYS(ibv_cmd_read_counters)
SR_ENOSYS(ibv_cmd_reg_dm_mr)
SR_ENOSYS(ibv_cmd_reg_dmabuf_mr)
SR_ENOSYS(ibv_cmd_reg_mr)
SR_ENOSYS(ibv_cmd_req_notify_cq)
SR_ENOSYS(ibv_cmd_rereg_mr)
SR_ENOSYS(ibv_cmd_resize_cq)
SR_ENOSYS(execute_ioctl)
SR_NULL(_verbs_init_and_alloc_context)
SR_NULL(verbs_open_device)
SR_NOTHING(verbs_register_driver_34)
SR_NOTHING(verbs_set_ops)
SR_NOTHING(verbs_init_cq)
SR_NOTHING(verbs_uninit_context)
SR_NOTHING(__verbs_log)

/* Used by the command-buffer macros of providers to size a buffer; the
 * count asked for is the count granted. */
SR_EXPORT unsigned int __ioctl_final_num_attrs(unsigned int num_attrs, void *link);
unsigned int __ioctl_final_num_attrs(unsigned int num_attrs, void *link)
{
	(void)link;
	return num_attrs;
}

SR_EXPORT bool verbs_allow_disassociate_destroy;
bool verbs_allow_disassociate_destroy;

SR_COMPAT(SR_NULL, ibv_alloc_pd, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_create_ah, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_create_cq, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_create_qp, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_create_srq, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_get_device_list, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_get_device_name, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_open_device, "IBVERBS_1.0")
SR_COMPAT(SR_NULL, ibv_reg_mr, "IBVERBS_1.0")
SR_COMPAT(SR_NOTHING, ibv_ack_async_event, "IBVERBS_1.0")
SR_COMPAT(SR_NOTHING, ibv_ack_cq_events, "IBVERBS_1.0")
SR_COMPAT(SR_NOTHING, ibv_free_device_list, "IBVERBS_1.0")
SR_COMPAT(SR_MINUS1, ibv_get_async_event, "IBVERBS_1.0")
SR_COMPAT(SR_MINUS1, ibv_get_cq_event, "IBVERBS_1.0")
SR_COMPAT(SR_MINUS1, ibv_query_gid, "IBVERBS_1.0")
SR_COMPAT(SR_MINUS1, ibv_query_pkey, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_attach_mcast, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_close_device, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_dealloc_pd, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_dereg_mr, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_destroy_ah, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_destroy_cq, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_destroy_qp, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_destroy_srq, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_detach_mcast, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_modify_qp, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_modify_srq, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_query_device, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_query_port, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_query_qp, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_query_srq, "IBVERBS_1.0")
SR_COMPAT(SR_ENOSYS, ibv_resize_cq, "IBVERBS_1.0")
SR_COMPAT(SR_NOTHING, ibv_register_driver, "IBVERBS_1.1")

/* ibv_get_device_guid@IBVERBS_1.0 returns a 64-bit GUID: 0, no device. */
SR_EXPORT uint64_t sr_compat_ibv_get_device_guid(void);
uint64_t sr_compat_ibv_get_device_guid(void)
{
	errno = ENOSYS;
	return 0;
}
__asm__(".symver sr_compat_ibv_get_device_guid, ibv_get_device_guid@IBVERBS_1.0");
