/* softroce: libmlx5.so.1 stub.  softroce HCAs are not mlx5 devices as far as
 * direct verbs go: mlx5dv_is_supported() is false and every other entry
 * point of rdma-core 44's libmlx5.so.1 (libmlx5.map) fails the way a device
 * without the feature does: NULL or -1 with errno EOPNOTSUPP, or EOPNOTSUPP
 * returned.  The classes follow each function's return type in mlx5dv.h;
 * the header itself is not included, as the stubs ignore their arguments
 * (ignoring them is ABI-safe for every caller of these non-variadic
 * functions). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SR_EXPORT __attribute__((visibility("default")))

#define SR_NULL(name) \
	SR_EXPORT void *name(void); \
	void *name(void) { errno = EOPNOTSUPP; return NULL; }
#define SR_ERRNO(name) \
	SR_EXPORT int name(void); \
	int name(void) { errno = EOPNOTSUPP; return EOPNOTSUPP; }
#define SR_MINUS1(name) \
	SR_EXPORT ssize_t name(void); \
	ssize_t name(void) { errno = EOPNOTSUPP; return -1; }
#define SR_NOTHING(name) \
	SR_EXPORT void name(void); \
	void name(void) { }
#define SR_FALSE(name) \
	SR_EXPORT bool name(void); \
	bool name(void) { return false; }

SR_NULL(mlx5dv_alloc_dm)
SR_NULL(mlx5dv_alloc_var)
SR_NULL(mlx5dv_create_cq)
SR_NULL(mlx5dv_create_flow)
SR_NULL(mlx5dv_create_flow_action_esp)
SR_NULL(mlx5dv_create_flow_action_modify_header)
SR_NULL(mlx5dv_create_flow_action_packet_reformat)
SR_NULL(mlx5dv_create_flow_matcher)
SR_NULL(mlx5dv_create_mkey)
SR_NULL(mlx5dv_create_qp)
SR_NULL(mlx5dv_create_steering_anchor)
SR_NULL(mlx5dv_create_wq)
SR_NULL(mlx5dv_crypto_login_create)
SR_NULL(mlx5dv_dek_create)
SR_NULL(mlx5dv_devx_alloc_msi_vector)
SR_NULL(mlx5dv_devx_alloc_uar)
SR_NULL(mlx5dv_devx_create_cmd_comp)
SR_NULL(mlx5dv_devx_create_eq)
SR_NULL(mlx5dv_devx_create_event_channel)
SR_NULL(mlx5dv_devx_obj_create)
SR_NULL(mlx5dv_devx_umem_reg)
SR_NULL(mlx5dv_devx_umem_reg_ex)
SR_NULL(mlx5dv_dm_map_op_addr)
SR_NULL(mlx5dv_dr_action_create_aso)
SR_NULL(mlx5dv_dr_action_create_default_miss)
SR_NULL(mlx5dv_dr_action_create_dest_array)
SR_NULL(mlx5dv_dr_action_create_dest_devx_tir)
SR_NULL(mlx5dv_dr_action_create_dest_ib_port)
SR_NULL(mlx5dv_dr_action_create_dest_ibv_qp)
SR_NULL(mlx5dv_dr_action_create_dest_root_table)
SR_NULL(mlx5dv_dr_action_create_dest_table)
SR_NULL(mlx5dv_dr_action_create_dest_vport)
SR_NULL(mlx5dv_dr_action_create_drop)
SR_NULL(mlx5dv_dr_action_create_flow_counter)
SR_NULL(mlx5dv_dr_action_create_flow_meter)
SR_NULL(mlx5dv_dr_action_create_flow_sampler)
SR_NULL(mlx5dv_dr_action_create_modify_header)
SR_NULL(mlx5dv_dr_action_create_packet_reformat)
SR_NULL(mlx5dv_dr_action_create_pop_vlan)
SR_NULL(mlx5dv_dr_action_create_push_vlan)
SR_NULL(mlx5dv_dr_action_create_tag)
SR_NULL(mlx5dv_dr_domain_create)
SR_NULL(mlx5dv_dr_matcher_create)
SR_NULL(mlx5dv_dr_rule_create)
SR_NULL(mlx5dv_dr_table_create)
SR_NULL(mlx5dv_get_vfio_device_list)
SR_NULL(mlx5dv_open_device)
SR_NULL(mlx5dv_pp_alloc)
SR_NULL(mlx5dv_qp_ex_from_ibv_qp_ex)
SR_NULL(mlx5dv_sched_leaf_create)
SR_NULL(mlx5dv_sched_node_create)
SR_ERRNO(_mlx5dv_mkey_check)
SR_ERRNO(_mlx5dv_query_port)
SR_ERRNO(mlx5dv_crypto_login)
SR_ERRNO(mlx5dv_crypto_login_destroy)
SR_ERRNO(mlx5dv_crypto_login_query)
SR_ERRNO(mlx5dv_crypto_login_query_state)
SR_ERRNO(mlx5dv_crypto_logout)
SR_ERRNO(mlx5dv_dci_stream_id_reset)
SR_ERRNO(mlx5dv_dek_destroy)
SR_ERRNO(mlx5dv_dek_query)
SR_ERRNO(mlx5dv_destroy_flow_matcher)
SR_ERRNO(mlx5dv_destroy_mkey)
SR_ERRNO(mlx5dv_destroy_steering_anchor)
SR_ERRNO(mlx5dv_devx_cq_modify)
SR_ERRNO(mlx5dv_devx_cq_query)
SR_ERRNO(mlx5dv_devx_destroy_eq)
SR_ERRNO(mlx5dv_devx_free_msi_vector)
SR_ERRNO(mlx5dv_devx_general_cmd)
SR_ERRNO(mlx5dv_devx_get_async_cmd_comp)
SR_ERRNO(mlx5dv_devx_ind_tbl_modify)
SR_ERRNO(mlx5dv_devx_ind_tbl_query)
SR_ERRNO(mlx5dv_devx_obj_destroy)
SR_ERRNO(mlx5dv_devx_obj_modify)
SR_ERRNO(mlx5dv_devx_obj_query)
SR_ERRNO(mlx5dv_devx_obj_query_async)
SR_ERRNO(mlx5dv_devx_qp_modify)
SR_ERRNO(mlx5dv_devx_qp_query)
SR_ERRNO(mlx5dv_devx_query_eqn)
SR_ERRNO(mlx5dv_devx_srq_modify)
SR_ERRNO(mlx5dv_devx_srq_query)
SR_ERRNO(mlx5dv_devx_subscribe_devx_event)
SR_ERRNO(mlx5dv_devx_subscribe_devx_event_fd)
SR_ERRNO(mlx5dv_devx_umem_dereg)
SR_ERRNO(mlx5dv_devx_wq_modify)
SR_ERRNO(mlx5dv_devx_wq_query)
SR_ERRNO(mlx5dv_dr_action_destroy)
SR_ERRNO(mlx5dv_dr_action_modify_aso)
SR_ERRNO(mlx5dv_dr_action_modify_flow_meter)
SR_ERRNO(mlx5dv_dr_aso_other_domain_link)
SR_ERRNO(mlx5dv_dr_aso_other_domain_unlink)
SR_ERRNO(mlx5dv_dr_domain_destroy)
SR_ERRNO(mlx5dv_dr_domain_sync)
SR_ERRNO(mlx5dv_dr_matcher_destroy)
SR_ERRNO(mlx5dv_dr_matcher_set_layout)
SR_ERRNO(mlx5dv_dr_rule_destroy)
SR_ERRNO(mlx5dv_dr_table_destroy)
SR_ERRNO(mlx5dv_dump_dr_domain)
SR_ERRNO(mlx5dv_dump_dr_matcher)
SR_ERRNO(mlx5dv_dump_dr_rule)
SR_ERRNO(mlx5dv_dump_dr_table)
SR_ERRNO(mlx5dv_get_clock_info)
SR_ERRNO(mlx5dv_init_obj)
SR_ERRNO(mlx5dv_map_ah_to_qp)
SR_ERRNO(mlx5dv_modify_qp_lag_port)
SR_ERRNO(mlx5dv_modify_qp_sched_elem)
SR_ERRNO(mlx5dv_modify_qp_udp_sport)
SR_ERRNO(mlx5dv_qp_cancel_posted_send_wrs)
SR_ERRNO(mlx5dv_query_device)
SR_ERRNO(mlx5dv_query_qp_lag_port)
SR_ERRNO(mlx5dv_reserved_qpn_alloc)
SR_ERRNO(mlx5dv_reserved_qpn_dealloc)
SR_ERRNO(mlx5dv_sched_leaf_destroy)
SR_ERRNO(mlx5dv_sched_leaf_modify)
SR_ERRNO(mlx5dv_sched_node_destroy)
SR_ERRNO(mlx5dv_sched_node_modify)
SR_ERRNO(mlx5dv_set_context_attr)
SR_ERRNO(mlx5dv_vfio_process_events)
SR_MINUS1(mlx5dv_devx_get_event)
SR_MINUS1(mlx5dv_vfio_get_events_fd)
SR_NOTHING(mlx5dv_devx_destroy_cmd_comp)
SR_NOTHING(mlx5dv_devx_destroy_event_channel)
SR_NOTHING(mlx5dv_devx_free_uar)
SR_NOTHING(mlx5dv_dr_domain_allow_duplicate_rules)
SR_NOTHING(mlx5dv_dr_domain_set_reclaim_device_memory)
SR_NOTHING(mlx5dv_free_var)
SR_NOTHING(mlx5dv_pp_free)
SR_FALSE(mlx5dv_is_supported)

/* The MLX5_1.0 entry of mlx5dv_init_obj (binaries linked before 1.2). */
SR_EXPORT int sr_mlx5dv_init_obj_1_0(void);
int sr_mlx5dv_init_obj_1_0(void) { errno = EOPNOTSUPP; return EOPNOTSUPP; }
__asm__(".symver sr_mlx5dv_init_obj_1_0, mlx5dv_init_obj@MLX5_1.0");
