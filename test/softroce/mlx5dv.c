/* softroce: libmlx5.so.1 stub.  softroce HCAs are not mlx5 devices as far as
 * direct verbs go: mlx5dv_is_supported() is false and the entry points a
 * plugin might probe fail with EOPNOTSUPP. */
#include <infiniband/mlx5dv.h>
#include <errno.h>

#define SR_EXPORT __attribute__((visibility("default")))

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
SR_EXPORT bool mlx5dv_is_supported(struct ibv_device *device)
{
	return false;
}

SR_EXPORT int mlx5dv_query_device(struct ibv_context *ctx, struct mlx5dv_context *attrs)
{
	return EOPNOTSUPP;
}

SR_EXPORT struct ibv_context *mlx5dv_open_device(struct ibv_device *device,
						 struct mlx5dv_context_attr *attr)
{
	errno = EOPNOTSUPP;
	return NULL;
}

SR_EXPORT struct ibv_qp *mlx5dv_create_qp(struct ibv_context *context,
					  struct ibv_qp_init_attr_ex *qp_attr,
					  struct mlx5dv_qp_init_attr *mlx5_qp_attr)
{
	errno = EOPNOTSUPP;
	return NULL;
}

SR_EXPORT struct ibv_cq_ex *mlx5dv_create_cq(struct ibv_context *context,
					     struct ibv_cq_init_attr_ex *cq_attr,
					     struct mlx5dv_cq_init_attr *mlx5_cq_attr)
{
	errno = EOPNOTSUPP;
	return NULL;
}

SR_EXPORT struct ibv_wq *mlx5dv_create_wq(struct ibv_context *context,
					  struct ibv_wq_init_attr *attr,
					  struct mlx5dv_wq_init_attr *mlx5_wq_attr)
{
	errno = EOPNOTSUPP;
	return NULL;
}

SR_EXPORT int mlx5dv_init_obj(struct mlx5dv_obj *obj, uint64_t obj_type)
{
	return EOPNOTSUPP;
}

SR_EXPORT int mlx5dv_set_context_attr(struct ibv_context *context,
				      enum mlx5dv_set_ctx_attr_type type, void *attr)
{
	return EOPNOTSUPP;
}

SR_EXPORT int mlx5dv_get_clock_info(struct ibv_context *context,
				    struct mlx5dv_clock_info *clock_info)
{
	return EOPNOTSUPP;
}

SR_EXPORT struct mlx5dv_mkey *mlx5dv_create_mkey(struct mlx5dv_mkey_init_attr *attr)
{
	errno = EOPNOTSUPP;
	return NULL;
}

SR_EXPORT int mlx5dv_destroy_mkey(struct mlx5dv_mkey *mkey)
{
	return EOPNOTSUPP;
}

SR_EXPORT struct ibv_flow_action *mlx5dv_create_flow_action_esp(
	struct ibv_context *ctx, struct ibv_flow_action_esp_attr *esp,
	struct mlx5dv_flow_action_esp *mlx5_attr)
{
	errno = EOPNOTSUPP;
	return NULL;
}

SR_EXPORT struct ibv_flow *mlx5dv_create_flow(struct mlx5dv_flow_matcher *matcher,
					      struct mlx5dv_flow_match_parameters *match_value,
					      size_t num_actions,
					      struct mlx5dv_flow_action_attr actions_attr[])
{
	errno = EOPNOTSUPP;
	return NULL;
}
#pragma GCC diagnostic pop
