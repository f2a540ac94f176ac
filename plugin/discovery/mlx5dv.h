/* rdma-core's mlx5 direct verbs, opened at run time: present on a real
 * ConnectX-7 host, absent or a stub (mlx5dv_is_supported() false) elsewhere,
 * e.g. under softroce. The plugin works without it. */
#ifndef SPARK_MLX5DV_H
#define SPARK_MLX5DV_H

#include <stdbool.h>

struct ibv_device;

struct spark_mlx5dv {
	void *lib;
	bool (*is_supported)(struct ibv_device *device);
};

/* false (and lib NULL) when libmlx5.so.1 or mlx5dv_is_supported@MLX5_1.8 is missing. */
bool spark_mlx5dv_open(struct spark_mlx5dv *dv);
bool spark_mlx5dv_supported(const struct spark_mlx5dv *dv, struct ibv_device *device);
void spark_mlx5dv_close(struct spark_mlx5dv *dv);

#endif
