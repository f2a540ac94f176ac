#define _GNU_SOURCE
#include "mlx5dv.h"

#include <dlfcn.h>
#include <stddef.h>

bool spark_mlx5dv_open(struct spark_mlx5dv *dv)
{
	dv->lib = dlopen("libmlx5.so.1", RTLD_NOW | RTLD_LOCAL);
	dv->is_supported = NULL;
	if (dv->lib == NULL)
		return false;
	/* Versioned, as rdma-core exports it; a stub with other versions is "absent". */
	void *sym = dlvsym(dv->lib, "mlx5dv_is_supported", "MLX5_1.8");
	if (sym == NULL) {
		spark_mlx5dv_close(dv);
		return false;
	}
	*(void **)&dv->is_supported = sym;
	return true;
}

bool spark_mlx5dv_supported(const struct spark_mlx5dv *dv, struct ibv_device *device)
{
	return dv->is_supported != NULL && dv->is_supported(device);
}

void spark_mlx5dv_close(struct spark_mlx5dv *dv)
{
	if (dv->lib != NULL)
		dlclose(dv->lib);
	dv->lib = NULL;
	dv->is_supported = NULL;
}
