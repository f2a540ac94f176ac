/* Sizes shared by discovery, pairing and the data path. */
#ifndef SPARK_LIMITS_H
#define SPARK_LIMITS_H

#define SPARK_NAME_LEN 64        /* an HCA name, with its NUL */
#define SPARK_NETDEV_LEN 32
#define SPARK_MAX_HCAS 32        /* (HCA, port) rails discovered per host */
#define SPARK_MAX_RAILS 2        /* rails fused into one logical device */
#define SPARK_MAX_DEVS 16        /* logical devices */
#define SPARK_MAX_RECVS 8        /* grouped receives per irecv: NCCL's own maximum */

#endif
