/* libFuzzer target for the dataplane's L2/L3 handling (dataplane/l3.c): any frame, any
 * length; the handler may rewrite the frame in place and grow it up to `cap`. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "l3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sn_l3_port port;
	static int ready;
	if (!ready) {
		static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 1};
		struct in_addr v4;
		struct in6_addr v6;
		inet_pton(AF_INET, "198.18.0.1", &v4);
		inet_pton(AF_INET6, "2001:db8:5e::1", &v6);
		sn_l3_port_init(&port, mac, &v4, 24, &v6, 64);
		ready = 1;
	}
	if (size > 9216)
		return 0;
	/* Exactly the frame plus the headroom an mbuf leaves, so overruns are caught. */
	size_t cap = size < 128 ? 128 : size;
	uint8_t *frame = malloc(cap);
	if (!frame)
		return 0;
	memcpy(frame, data, size);
	struct sn_l3_result res;
	sn_l3_handle(&port, frame, (uint16_t)size, (uint16_t)cap, (size & 1) == 0, &res);
	if (res.action == SN_L3_REPLY && res.len > cap)
		abort();
	if (res.action == SN_L3_UDP && (size_t)res.payload_off + res.payload_len > size)
		abort();
	free(frame);
	return 0;
}
