#include "http.h"
#include "buf.h"
#include "metrics.h"
#include "sn_log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	SN_WARN("libmicrohttpd: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len, bool owned, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (owned)
		r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	else
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	static char not_found[] = "not found; metrics are at /metrics\n";
	static char not_allowed[] = "method not allowed\n";
	static char failed[] = "metrics could not be rendered\n";
	struct ctl_http *h = cls;
	struct ctl_buf b;
	char *body;
	size_t len;
	int err;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed,
			     sizeof(not_allowed) - 1, false, "GET");
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found,
			     sizeof(not_found) - 1, false, NULL);
	ctl_buf_init(&b);
	ctl_metrics_render(&b, ctl_stats_reader_get(&h->reader), h->ctr, ctl_real_ns());
	body = ctl_buf_detach(&b, &len, &err);
	if (!body) {
		SN_ERR("render /metrics: %s", strerror(-err));
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", failed,
			     sizeof(failed) - 1, false, NULL);
	}
	return reply(conn, MHD_HTTP_OK, CTL_METRICS_CONTENT_TYPE, body, len, true, NULL);
}

int ctl_http_start(struct ctl_http *h, const char *listen, uint16_t port, const char *runtime_dir,
		   const struct ctl_counters *ctr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(h, 0, sizeof(*h));
	h->ctr = ctr;
	ctl_stats_reader_init(&h->reader, runtime_dir);
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, listen, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sa = (const struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, listen, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		sa = (const struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		SN_ERR("control.metrics_listen %s: not an IPv4 or IPv6 address", listen);
		return -EINVAL;
	}
	errno = 0;
	/* the logger comes first so that every message goes through it */
	h->daemon = MHD_start_daemon(
	    flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (!h->daemon) {
		int err = errno ? errno : EADDRINUSE;

		SN_ERR("cannot serve metrics on %s port %u: %s", listen, port, strerror(err));
		ctl_stats_reader_fini(&h->reader);
		return -err;
	}
	SN_INFO("metrics on http://%s%s%s:%u/metrics", sa->sa_family == AF_INET6 ? "[" : "", listen,
		sa->sa_family == AF_INET6 ? "]" : "", port);
	return 0;
}

void ctl_http_stop(struct ctl_http *h)
{
	if (!h->daemon)
		return;
	MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	ctl_stats_reader_fini(&h->reader);
}
