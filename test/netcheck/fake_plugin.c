/* A stand-in for a foreign net plugin (an NGC image's libnccl-net.so): it
 * exports a v8 table under another name, which is all spark-netcheck reads. */
#include "nccl/net_v8.h"

__attribute__((visibility("default"))) const ncclNet_v8_t ncclNetPlugin_v8 = {
	.name = "FakeIBext",
};
