/* The profiler callback NCCL hands to init from net ABI v10 on
 * (nccl_common.h). We never call it: the plugin emits no profiler events. */
#ifndef SPARK_NCCL_PROFILER_H
#define SPARK_NCCL_PROFILER_H

#include <stdint.h>

#include "err.h"

typedef ncclResult_t (*ncclProfilerCallback_t)(void **eHandle, int type, void *pHandle,
						int64_t pluginId, void *extData);

#endif
