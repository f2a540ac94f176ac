/* Constants of NCCL's net plugin interface shared by every ABI version. */
#ifndef SPARK_NCCL_NET_H
#define SPARK_NCCL_NET_H

#include "err.h"
#include "log.h"
#include "net_device.h"

#define NCCL_NET_HANDLE_MAXSIZE 128
#define NCCL_PTR_HOST 0x1
#define NCCL_PTR_CUDA 0x2
#define NCCL_PTR_DMABUF 0x4
#define NCCL_NET_MAX_REQUESTS 32   /* per comm, since 2.19 */

#endif
