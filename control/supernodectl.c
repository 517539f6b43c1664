/* supernodectl: asks supernode-control over its admin socket and prints the answer.
 *
 *   supernodectl [--runtime-dir DIR | --config FILE] [--json] COMMAND [ARGS]
 *
 * Exit status: 0 ok, 1 error reply or failure, 2 usage, 3 supernode-control not running.
 * With --json every failure of our own (not running, no permission, timeout) also prints an
 * object {"error": ...} on stdout, so a script always gets JSON to parse. */
#include "admin.h"
#include "buf.h"
#include "json.h"
#include "sn_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_RUNTIME_DIR "/run/supernode"
#define ADMIN_SOCKET	    "admin.sock" /* CTL_ADMIN_SOCKET */
#define MAX_REQUEST	    1024	 /* CTL_ADMIN_MAX_LINE */
#define REPLY_TIMEOUT_MS    10000

static void usage(FILE *out)
{
	const char *args, *help, *name;

	fprintf(out,
		"usage: supernodectl [--runtime-dir DIR | --config FILE] [--json] COMMAND [ARGS]\n"
		"  --runtime-dir DIR  where supernode-control runs (default " DEFAULT_RUNTIME_DIR
		")\n"
		"  --config FILE      take the runtime dir from the appliance config\n"
		"  --json             machine-readable output (also accepted after the command)\n"
		"  -h, --help         this text\n"
		"commands (answered by supernode-control over <runtime dir>/admin.sock):\n");
	for (int i = 0; (name = ctl_admin_command(i, &args, &help)) != NULL; i++)
		fprintf(out, "  %-10s %s%s%s\n", name, args[0] ? args : "", args[0] ? "  " : "",
			help);
	fprintf(out, "exit status: 0 ok, 1 error reply or failure, 2 usage, 3 supernode-control "
		     "not running\n");
}

/* With --json: {"error": what, "socket": path, "detail": detail} on stdout. */
static void json_error(bool json, const char *what, const char *path, const char *detail)
{
	struct ctl_buf b;
	struct ctl_json j;

	if (!json)
		return;
	ctl_buf_init(&b);
	ctl_json_init(&j, &b);
	ctl_json_obj_begin(&j);
	ctl_json_kv_str(&j, "error", what);
	ctl_json_kv_str(&j, "socket", path);
	if (detail)
		ctl_json_kv_str(&j, "detail", detail);
	ctl_json_obj_end(&j);
	if (ctl_json_finish(&j) == 0)
		printf("%s\n", b.data);
	ctl_buf_free(&b);
}

/* Prints the not-running message; with --json also an object on stdout. */
static int not_running(const char *path, bool json)
{
	fprintf(stderr, "supernodectl: supernode-control is not running (no admin socket at %s)\n",
		path);
	json_error(json, "not running", path, NULL);
	return 3;
}

/* Any other failure talking to control: message on stderr, JSON object with --json. */
static int __attribute__((format(printf, 4, 5)))
failed(const char *path, bool json, const char *what, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	fprintf(stderr, "supernodectl: %s: %s\n", what, detail);
	json_error(json, what, path, detail);
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads the reply until the server closes. */
static int read_reply(int fd, struct ctl_buf *reply)
{
	char chunk[4096];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = poll(&pfd, 1, REPLY_TIMEOUT_MS);
		ssize_t n;

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (rc == 0)
			return -ETIMEDOUT;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* the server closed with our request partly unread: its reply is whole */
			if (errno == ECONNRESET && reply->len)
				return reply->err;
			return -errno;
		}
		if (n == 0)
			return reply->err;
		ctl_buf_append(reply, chunk, (size_t)n);
		if (reply->err)
			return reply->err;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"runtime-dir", required_argument, NULL, 'r'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *runtime_dir = DEFAULT_RUNTIME_DIR, *config = NULL;
	bool json = false;
	int opt, fd = -1, rc, status = 1;
	struct sockaddr_un sa;
	struct ctl_buf req, reply;
	char path[4096 + 16];
	struct sn_config *cfg = NULL;

	ctl_buf_init(&req);
	ctl_buf_init(&reply);
	/* '+': stop at the command, so its arguments are not taken as our options */
	while ((opt = getopt_long(argc, argv, "+r:c:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runtime_dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (config) {
		char err[512];

		cfg = calloc(1, sizeof(*cfg));
		if (!cfg) {
			fprintf(stderr, "supernodectl: out of memory\n");
			return 1;
		}
		rc = sn_config_load(config, cfg, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "supernodectl: %s\n", err);
			free(cfg);
			return 2;
		}
		runtime_dir = cfg->runtime_dir;
	}

	/* request line: words joined by spaces, then the format; `status --json` works too */
	int words = 0;

	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			words++;
	}
	if (!words) {
		usage(stderr);
		status = 2;
		goto out;
	}
	for (int i = optind, first = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		for (const char *p = argv[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == ' ') {
				fprintf(stderr,
					"supernodectl: argument '%s': spaces and control "
					"characters are not allowed\n",
					argv[i]);
				status = 2;
				goto out;
			}
		if (!first)
			ctl_buf_putc(&req, ' ');
		first = 0;
		ctl_buf_puts(&req, argv[i]);
	}
	ctl_buf_puts(&req, json ? " json\n" : " text\n");
	if (req.err || req.len > MAX_REQUEST) {
		fprintf(stderr, "supernodectl: request longer than %d bytes\n", MAX_REQUEST);
		status = 2;
		goto out;
	}

	snprintf(path, sizeof(path), "%s/%s", runtime_dir, ADMIN_SOCKET);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		status = failed(path, json, "bad runtime dir", "socket path %s too long", path);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		status = failed(path, json, "socket failed", "%s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* ENOTDIR: the runtime dir is a file; either way nothing listens there */
		if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR)
			status = not_running(path, json);
		else if (errno == EACCES || errno == EPERM)
			status = failed(path, json, "permission denied",
					"%s is owner and group only: run as root or as a member of "
					"its group",
					path);
		else
			status =
			    failed(path, json, "connect failed", "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = write_all(fd, req.data, req.len);
	if (rc == 0)
		rc = read_reply(fd, &reply);
	if (rc == -ETIMEDOUT) {
		status = failed(path, json, "no reply",
				"supernode-control did not answer within %d s (busy or hung?)",
				REPLY_TIMEOUT_MS / 1000);
		goto out;
	}
	if (rc < 0) {
		status = failed(path, json, "request failed", "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!reply.len) {
		status = failed(path, json, "empty reply",
				"supernode-control closed the connection without a reply");
		goto out;
	}
	fwrite(reply.data, 1, reply.len, stdout);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "supernodectl: stdout: %s\n", strerror(errno));
		goto out;
	}
	/* error replies: text "error: ...", JSON {"error":...} */
	if (!strncmp(reply.data, "error:", 6) || !strncmp(reply.data, "{\"error\":", 9))
		status = 1;
	else
		status = 0;
out:
	if (fd >= 0)
		close(fd);
	ctl_buf_free(&req);
	ctl_buf_free(&reply);
	if (cfg) {
		sn_config_free(cfg);
		free(cfg);
	}
	return status;
}
