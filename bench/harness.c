/* harness.c: the DPDK measurement harness of issue 7 (docs/benchmarks.md, "Harness").
 *
 *   supernode-bench pcap      writes a scenario's frames as a pcap (+ FILE.json sidecar)
 *   supernode-bench dataplane runs the real supernode-dataplane on a net_pcap port replaying
 *                             that pcap forever (tx to net_pcap's drop queue), loads the
 *                             matching tables over the control channel as a control client,
 *                             then reads the stats segment for --seconds
 *   supernode-bench testpmd   dpdk-testpmd macswap on the same port layout: the upper bound
 *
 * Every run is bounded: the child is sent SIGTERM after --seconds (plus load time) and
 * SIGKILL if it has not exited 10 s later. Results are one JSON object per run on stdout;
 * progress goes to stderr. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "scenario.h"
#include "sn_channel.h"
#include "sn_stats.h"

int bench_pcap_main(int argc, char **argv);
int bench_dataplane_main(int argc, char **argv);
int bench_testpmd_main(int argc, char **argv);
int bench_latency_main(int argc, char **argv);

struct hopts {
	struct bench_plan plan;
	const char *out;      /* pcap: output file */
	const char *pcap;     /* dataplane/testpmd: existing pcap to replay */
	const char *workdir;  /* config, logs, runtime dir */
	const char *prefix;   /* DPDK --file-prefix */
	const char *binary;   /* supernode-dataplane or dpdk-testpmd */
	unsigned seconds;     /* measurement time */
	bool json;	      /* JSON only on stdout (always JSON; kept for the brief's CLI) */
	bool keep;	      /* keep workdir */
	bool packets_set;     /* --packets given */
	bool routes_set;      /* --routes given */
	bool allocations_set; /* --allocations given */
	unsigned memory_mb;   /* EAL -m; 0: from the packet count */
	const char *lcores;   /* testpmd -l */
	int guard;	      /* GUARD_*: the dataplane's source guard rates */
};

/* The source guard polices per source and per /24 or /64 before any parsing. A throughput
 * run from a few thousand generated sources would measure the policer, not the fast path:
 * "open" keeps the guard (its lookup cost is measured) with rates nobody reaches; "default"
 * runs the shipping rates (the flood scenario's default, where policing is the point). */
enum { GUARD_AUTO = 0, GUARD_OPEN, GUARD_DEFAULT };

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "supernode-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

enum {
	OPT_SCENARIO = 1000,
	OPT_ALLOCATIONS,
	OPT_ROUTES,
	OPT_PACKETS,
	OPT_SEED,
	OPT_SRTP,
	OPT_NO_SRTP,
	OPT_OUT,
	OPT_PCAP,
	OPT_SECONDS,
	OPT_JSON,
	OPT_WORKDIR,
	OPT_PREFIX,
	OPT_BINARY,
	OPT_KEEP,
	OPT_MEMORY,
	OPT_LCORES,
	OPT_GUARD,
	OPT_APP_MAC,
	OPT_HELP,
};

static const struct option long_opts[] = {
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"allocations", required_argument, NULL, OPT_ALLOCATIONS},
    {"routes", required_argument, NULL, OPT_ROUTES},
    {"packets", required_argument, NULL, OPT_PACKETS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"srtp", no_argument, NULL, OPT_SRTP},
    {"no-srtp", no_argument, NULL, OPT_NO_SRTP},
    {"out", required_argument, NULL, OPT_OUT},
    {"pcap", required_argument, NULL, OPT_PCAP},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"json", no_argument, NULL, OPT_JSON},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"file-prefix", required_argument, NULL, OPT_PREFIX},
    {"binary", required_argument, NULL, OPT_BINARY},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"lcores", required_argument, NULL, OPT_LCORES},
    {"guard", required_argument, NULL, OPT_GUARD},
    {"app-mac", required_argument, NULL, OPT_APP_MAC},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(const char *cmd)
{
	fprintf(stderr,
		"usage: supernode-bench %s [options]\n"
		"  --scenario S      channeldata|send|dht-ping|dht-find|dht-mix|flood|mixed\n"
		"  --allocations N   TURN allocations (1..%u; default 100000)\n"
		"  --routes R        DHT routing entries (1..8192; default 8192)\n"
		"  --packets M       frames in the pcap (default min(allocations, 65536))\n"
		"  --seed X          node ids, tokens, visiting order (default 1)\n"
		"  --srtp/--no-srtp  TURN payloads are libsrtp2 SRTP (default) or random bytes\n"
		"  --out FILE        pcap: output file\n"
		"  --pcap FILE       dataplane/testpmd: replay this pcap instead of writing one\n"
		"  --seconds T       measurement time (default 10)\n"
		"  --workdir DIR     config, logs, runtime dir (default /tmp/supernode-bench.PID)\n"
		"  --file-prefix P   DPDK file prefix (default snbench<PID>)\n"
		"  --binary PATH     supernode-dataplane / dpdk-testpmd to run\n"
		"  --memory MB       EAL -m (default from the packet count)\n"
		"  --app-mac MAC     destination MAC of the frames (pcap for a real NIC; default\n"
		"                    net_pcap's 02:70:63:61:70:00)\n"
		"  --guard MODE      open (rates nobody reaches) or default (shipping rates);\n"
		"                    default: default for flood, open otherwise\n"
		"  --keep            keep the workdir\n"
		"  --json            JSON on stdout (the default; accepted for scripts)\n",
		cmd, BENCH_MAX_ALLOCS);
}

static int parse_opts(int argc, char **argv, struct hopts *o)
{
	memset(o, 0, sizeof(*o));
	o->plan.scenario = BENCH_CHANNELDATA;
	o->plan.allocations = 100000;
	o->plan.routes = 8192;
	o->plan.seed = 1;
	o->plan.srtp = true;
	o->seconds = 10;
	static const uint8_t mac[6] = BENCH_APP_MAC_INIT;
	memcpy(o->plan.app_mac, mac, 6);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		char *end = NULL;
		unsigned long long v = 0;
		if (optarg && c != OPT_SCENARIO && c != OPT_OUT && c != OPT_PCAP &&
		    c != OPT_WORKDIR && c != OPT_PREFIX && c != OPT_BINARY && c != OPT_LCORES &&
		    c != OPT_GUARD && c != OPT_APP_MAC) {
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || !*optarg || *end) {
				note("%s: bad number '%s'", argv[0], optarg);
				return -EINVAL;
			}
		}
		switch (c) {
		case OPT_SCENARIO: {
			int s = bench_scenario_parse(optarg);
			if (s < 0) {
				note("unknown scenario '%s'", optarg);
				return -EINVAL;
			}
			o->plan.scenario = (enum bench_scenario)s;
			break;
		}
		case OPT_ALLOCATIONS:
			if (v < 1 || v > BENCH_MAX_ALLOCS) {
				note("--allocations must be 1..%u (%u per appliance port: relayed "
				     "ports %u-%u per address family; %u ports at most)",
				     BENCH_MAX_ALLOCS, BENCH_PER_PORT, BENCH_RELAY_MIN,
				     BENCH_RELAY_MAX, BENCH_MAX_PORTS);
				return -ERANGE;
			}
			o->plan.allocations = (uint32_t)v;
			o->allocations_set = true;
			break;
		case OPT_ROUTES:
			if (v < 1 || v > 8192) {
				note("--routes must be 1..8192");
				return -ERANGE;
			}
			o->plan.routes = (uint32_t)v;
			o->routes_set = true;
			break;
		case OPT_PACKETS:
			if (v < 1 || v > 4000000) {
				note("--packets must be 1..4000000");
				return -ERANGE;
			}
			o->plan.packets = (uint32_t)v;
			o->packets_set = true;
			break;
		case OPT_SEED:
			o->plan.seed = v;
			break;
		case OPT_SRTP:
			o->plan.srtp = true;
			break;
		case OPT_NO_SRTP:
			o->plan.srtp = false;
			break;
		case OPT_OUT:
			o->out = optarg;
			break;
		case OPT_PCAP:
			o->pcap = optarg;
			break;
		case OPT_SECONDS:
			if (v < 1 || v > 3600) {
				note("--seconds must be 1..3600");
				return -ERANGE;
			}
			o->seconds = (unsigned)v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_WORKDIR:
			o->workdir = optarg;
			break;
		case OPT_PREFIX:
			o->prefix = optarg;
			break;
		case OPT_BINARY:
			o->binary = optarg;
			break;
		case OPT_KEEP:
			o->keep = true;
			break;
		case OPT_MEMORY:
			o->memory_mb = (unsigned)v;
			break;
		case OPT_LCORES:
			o->lcores = optarg;
			break;
		case OPT_APP_MAC: {
			unsigned m[6];
			char tail;
			if (sscanf(optarg, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4],
				   &m[5], &tail) != 6) {
				note("--app-mac must be XX:XX:XX:XX:XX:XX");
				return -EINVAL;
			}
			for (int i = 0; i < 6; i++)
				o->plan.app_mac[i] = (uint8_t)m[i];
			break;
		}
		case OPT_GUARD:
			if (!strcmp(optarg, "open"))
				o->guard = GUARD_OPEN;
			else if (!strcmp(optarg, "default"))
				o->guard = GUARD_DEFAULT;
			else {
				note("--guard must be open or default");
				return -EINVAL;
			}
			break;
		default:
			usage(argv[0]);
			return c == OPT_HELP ? 1 : -EINVAL;
		}
	}
	if (optind != argc) {
		usage(argv[0]);
		return -EINVAL;
	}
	if (o->guard == GUARD_AUTO)
		o->guard = o->plan.scenario == BENCH_FLOOD ? GUARD_DEFAULT : GUARD_OPEN;
	if (!o->packets_set)
		o->plan.packets = o->plan.allocations < 65536 ? o->plan.allocations : 65536;
	if (o->plan.packets < 1024 && !o->packets_set)
		o->plan.packets = 1024;
	return 0;
}

int bench_pcap_main(int argc, char **argv)
{
	struct hopts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 64;
	if (!o.out) {
		note("pcap: --out FILE is required");
		return 64;
	}
	rc = bench_write_pcap(&o.plan, o.out);
	if (rc < 0)
		return 1;
	note("pcap: %s: %u frames of scenario %s (+2 neighbour frames), sidecar %s.json", o.out,
	     o.plan.packets, bench_scenario_names[o.plan.scenario], o.out);
	return 0;
}

/* --- child processes --- */

static pid_t spawn(char *const argv[], const char *log, int *stdin_fd)
{
	int pipefd[2] = {-1, -1};
	if (stdin_fd && pipe(pipefd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (stdin_fd) {
			dup2(pipefd[0], 0);
			close(pipefd[0]);
			close(pipefd[1]);
		} else {
			int nul = open("/dev/null", O_RDONLY);
			if (nul >= 0)
				dup2(nul, 0);
		}
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (stdin_fd) {
		close(pipefd[0]);
		*stdin_fd = pipefd[1];
	}
	return pid;
}

/* SIGTERM, then SIGKILL after 10 s. Returns the exit status or -1. */
static int exit_status(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Signals only a child that has not been reaped yet (waitpid says it is still ours), so a
 * recycled pid is never hit. */
static int stop_child(pid_t pid)
{
	int status = 0;
	pid_t r = waitpid(pid, &status, WNOHANG);
	if (r == pid)
		return exit_status(status);
	if (r < 0)
		return -1; /* already reaped */
	kill(pid, SIGTERM);
	uint64_t deadline = mono_ns() + 10000000000ull;
	while (mono_ns() < deadline) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return exit_status(status);
		if (r < 0)
			return -1;
		sleep_ms(20);
	}
	note("pid %d did not stop in 10 s: SIGKILL", (int)pid);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static bool child_alive(pid_t pid)
{
	int status;
	return waitpid(pid, &status, WNOHANG) == 0;
}

/* dir/name into out; -ENAMETOOLONG when it does not fit. */
static int pjoin(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len) {
		note("path %s/%s is too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* CPU time of a DPDK process's forwarding lcores ("rte-worker-*" threads), wall time and
 * TSC at one moment. busy_cycles (and testpmd's cycles/packet) are TSC, i.e. wall time:
 * on a shared machine they include the time the worker was preempted. The threads' own
 * CPU time (schedstat) is not inflated by other processes, so cpu_cycles_per_packet =
 * CPU ns x TSC rate / packets is the figure comparable across runs and with testpmd. */
struct cpu_probe {
	uint64_t cpu_ns, wall_ns, tsc;
	bool ok;
};

static struct cpu_probe cpu_probe(pid_t pid)
{
	struct cpu_probe c = {.wall_ns = mono_ns(), .tsc = __rdtsc()};
	char path[320], name[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return c;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		bool worker = f && fgets(name, sizeof(name), f) && !strncmp(name, "rte-worker", 10);
		if (f)
			fclose(f);
		if (!worker)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		f = fopen(path, "r");
		unsigned long long ns;
		if (f && fscanf(f, "%llu", &ns) == 1) {
			c.cpu_ns += ns;
			c.ok = true;
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return c;
}

/* Worker CPU cycles per packet between two probes (0 when unknown), and its CPU share. */
static double cpu_cycles_per_packet(const struct cpu_probe *a, const struct cpu_probe *b,
				    uint64_t packets, double *share)
{
	*share = 0;
	if (!a->ok || !b->ok || b->wall_ns <= a->wall_ns || !packets)
		return 0;
	double tsc_per_ns = (double)(b->tsc - a->tsc) / (double)(b->wall_ns - a->wall_ns);
	*share = (double)(b->cpu_ns - a->cpu_ns) / (double)(b->wall_ns - a->wall_ns);
	return (double)(b->cpu_ns - a->cpu_ns) * tsc_per_ns / (double)packets;
}

static const char *self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0)
		return ".";
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	return buf;
}

/* --binary, else the build tree's dataplane next to this binary's dir, else an installed
 * one beside this binary. */
static int dataplane_bin(const struct hopts *o, char *bin, size_t len)
{
	char selfd[PATH_MAX];
	if (o->binary) {
		snprintf(bin, len, "%s", o->binary);
		return 0;
	}
	self_dir(selfd, sizeof(selfd));
	if (pjoin(bin, len, selfd, "../dataplane/supernode-dataplane") < 0)
		return -ENAMETOOLONG;
	if (access(bin, X_OK) == 0)
		return 0;
	return pjoin(bin, len, selfd, "supernode-dataplane");
}

static int make_workdir(struct hopts *o, char *dir, size_t len, const char *what)
{
	if (o->workdir)
		snprintf(dir, len, "%s", o->workdir);
	else
		snprintf(dir, len, "/tmp/supernode-bench.%d", (int)getpid());
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
		note("%s: workdir %s: %s", what, dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static void remove_workdir(const struct hopts *o, const char *dir)
{
	if (o->keep || o->workdir)
		return;
	char cmd[PATH_MAX + 32];
	/* Only the directory this run created (or was given): config, pcap, logs, run/. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (!strchr(dir, '\'') && system(cmd) != 0)
		note("could not remove %s", dir);
}

/* Frames in a classic pcap file, or -1. */
static long pcap_frames(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint32_t gh[6], rec[4];
	long n = 0;
	if (!f)
		return -1;
	if (fread(gh, sizeof(gh), 1, f) != 1 || (gh[0] != 0xa1b2c3d4u && gh[0] != 0xa1b23c4du)) {
		fclose(f);
		return -1;
	}
	while (fread(rec, sizeof(rec), 1, f) == 1 && fseek(f, (long)rec[2], SEEK_CUR) == 0)
		n++;
	fclose(f);
	return n;
}

/* mbufs for net_pcap's infinite_rx copy of the pcap plus queues and caches, as 2^n - 1. */
static uint32_t mbufs_for(uint32_t frames)
{
	uint32_t need = frames + 8192, n = 8191;
	while (n < need)
		n = n * 2 + 1;
	return n;
}

static unsigned memory_for(const struct hopts *o, uint32_t mbufs)
{
	if (o->memory_mb)
		return o->memory_mb;
	return 512u + (unsigned)((uint64_t)mbufs * 3072u >> 20);
}

/* --- control channel client --- */

struct chan {
	int fd;
	uint32_t seq;
	uint32_t outstanding;
	uint32_t acked, errors;
	int32_t first_error;
	uint32_t punts;
	uint64_t last_keepalive;
	uint64_t buf[SN_CHANNEL_MAX_MSG / 8 + 1];
};

static int chan_connect(struct chan *c, const char *run_dir, pid_t dp, unsigned timeout_s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (pjoin(sa.sun_path, sizeof(sa.sun_path), run_dir, SN_CHANNEL_SOCKET) < 0)
		return -ENAMETOOLONG;
	uint64_t deadline = mono_ns() + (uint64_t)timeout_s * 1000000000ull;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	while (mono_ns() < deadline) {
		if (!child_alive(dp)) {
			note("dataplane exited during start-up (see its log)");
			return -ECHILD;
		}
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			c->fd = fd;
			return 0;
		}
		close(fd);
		sleep_ms(50);
	}
	note("no channel socket at %s after %u s", sa.sun_path, timeout_s);
	return -ETIMEDOUT;
}

/* Reads one message (waiting up to ms). Returns its type, 0 on timeout, or -errno. */
static int chan_read(struct chan *c, int ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int r = poll(&pfd, 1, ms);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	struct sn_msg_view v;
	int rc = sn_msg_parse(c->buf, (size_t)n, &v);
	if (rc < 0)
		return rc;
	switch (v.hdr->type) {
	case SN_MSG_TABLE_ACK:
		c->acked++;
		if (c->outstanding)
			c->outstanding--;
		if (v.u.table_ack->result < 0) {
			if (!c->errors)
				c->first_error = v.u.table_ack->result;
			c->errors++;
		}
		break;
	case SN_MSG_ERROR:
		if (c->outstanding)
			c->outstanding--;
		if (!c->errors)
			c->first_error = v.u.error->error;
		c->errors++;
		note("channel ERROR for seq %u: %.64s", v.u.error->bad_seq, v.u.error->text);
		break;
	case SN_MSG_PUNT:
		c->punts++;
		break;
	default:
		break;
	}
	return v.hdr->type;
}

static int chan_send(struct chan *c, const void *msg, size_t len)
{
	for (;;) {
		if (send(c->fd, msg, len, MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			return -errno;
		int r = chan_read(c, 10);
		if (r < 0)
			return r;
	}
}

static int chan_hello(struct chan *c)
{
	uint8_t msg[sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_hello)];
	struct sn_msg_hello *h = (struct sn_msg_hello *)(msg + sizeof(struct sn_msg_hdr));
	memset(msg, 0, sizeof(msg));
	h->role = SN_ROLE_CONTROL;
	h->pid = (uint32_t)getpid();
	snprintf(h->build, sizeof(h->build), "supernode-bench");
	uint32_t len = sn_msg_init(msg, SN_MSG_HELLO, c->seq++, sizeof(*h));
	int rc = chan_send(c, msg, len);
	if (rc < 0)
		return rc;
	uint64_t deadline = mono_ns() + 5000000000ull;
	while (mono_ns() < deadline) {
		rc = chan_read(c, 100);
		if (rc == SN_MSG_HELLO)
			return 0;
		if (rc < 0)
			return rc;
	}
	return -ETIMEDOUT;
}

/* A window of commands in flight keeps the socket full without overrunning it. */
#define CHAN_WINDOW 128

static int chan_table(struct chan *c, uint16_t table, const void *k, uint16_t kl, const void *v,
		      uint16_t vl)
{
	uint8_t msg[512];
	while (c->outstanding >= CHAN_WINDOW) {
		int r = chan_read(c, 1000);
		if (r < 0)
			return r;
		if (r == 0) {
			note("no TABLE_ACK for 1 s (%u outstanding)", c->outstanding);
			return -ETIMEDOUT;
		}
	}
	int len = sn_msg_build_table(msg, sizeof(msg), SN_MSG_TABLE_CMD, c->seq++, table,
				     SN_TABLE_OP_ADD, k, kl, v, vl);
	if (len < 0)
		return len;
	int rc = chan_send(c, msg, (size_t)len);
	if (rc == 0)
		c->outstanding++;
	return rc;
}

static int chan_drain(struct chan *c, unsigned timeout_s)
{
	uint64_t deadline = mono_ns() + (uint64_t)timeout_s * 1000000000ull;
	while (c->outstanding && mono_ns() < deadline) {
		int r = chan_read(c, 100);
		if (r < 0)
			return r;
	}
	return c->outstanding ? -ETIMEDOUT : 0;
}

static void chan_keepalive(struct chan *c)
{
	uint64_t now = mono_ns();
	if (now - c->last_keepalive < 1000000000ull)
		return;
	c->last_keepalive = now;
	uint8_t msg[sizeof(struct sn_msg_hdr)];
	uint32_t len = sn_msg_init(msg, SN_MSG_KEEPALIVE, c->seq++, 0);
	(void)send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* --- stats --- */

struct snap {
	uint64_t t_ns;
	uint64_t rx, tx, busy_cycles, total_cycles;
	uint64_t counters[SN_CTR_MAX];
	uint64_t drops[SN_DROP_MAX];
	uint64_t punts[SN_PUNT_MAX];
};

static void snap_take(const struct sn_stats_segment *seg, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ns = mono_ns();
	for (uint32_t l = 0; l < seg->n_lcores && l < SN_STATS_MAX_LCORES; l++) {
		const struct sn_stats_lcore *b = &seg->lcores[l];
		for (int i = 0; i < SN_CTR_MAX; i++)
			s->counters[i] += b->counters[i];
		for (int i = 0; i < SN_DROP_MAX; i++)
			s->drops[i] += b->drops[i];
		for (int i = 0; i < SN_PUNT_MAX; i++)
			s->punts[i] += b->punts[i];
		if (seg->lcore_is_worker[l]) {
			s->rx += b->counters[SN_CTR_RX_PACKETS];
			s->tx += b->counters[SN_CTR_TX_PACKETS];
			s->busy_cycles += b->poll_cycles_busy;
			s->total_cycles += b->poll_cycles_total;
		}
	}
}

/* Drops the harness expects by design: the source guard's and the punt path's policing
 * (flood), and punts control could not take. Every other drop reason counts as loss. */
static bool drop_expected(int reason)
{
	if (!strncmp(sn_drop_reason_names[reason], "guard_", 6))
		return true;
	return reason == SN_DROP_PUNT_POLICED || reason == SN_DROP_PUNT_RING_FULL ||
	       reason == SN_DROP_PUNT_NO_CONTROL || reason == SN_DROP_PUNT_CHANNEL_FULL;
}

/* The dataplane's config: one worker, one port on `device`, the TURN and DHT dispatch. */
static int write_config(const struct hopts *o, const char *dir, const char *device,
			const char *run_dir, const char *prefix, uint32_t mbufs, unsigned mem,
			char *path, size_t len)
{
	if (pjoin(path, len, dir, "supernode.yaml") < 0)
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "w");
	if (!f) {
		note("config %s: %s", path, strerror(errno));
		return -errno;
	}
	uint32_t max_allocs = o->plan.allocations < 1024 ? 1024 : o->plan.allocations;
	/* Relayed ports are unique per appliance address: more allocations than one port
	 * holds need more ports. They carry no traffic (net_null without rx); they only hold
	 * addresses, so that the table is as big as asked. */
	char extra[BENCH_MAX_PORTS * 256] = "";
	size_t off = 0;
	uint32_t n_ports = (o->plan.allocations + BENCH_PER_PORT - 1) / BENCH_PER_PORT;
	for (uint32_t pi = 1; pi < n_ports && off < sizeof(extra); pi++)
		off += (size_t)snprintf(extra + off, sizeof(extra) - off,
					"    - name: bench%u\n"
					"      device: \"net_null%u,no-rx=1\"\n"
					"      ipv4: 198.18.%u.1/24\n"
					"      ipv6: 2001:db8:5e:%u::1/64\n"
					"      gateway4: 198.18.%u.254\n"
					"      gateway6: 2001:db8:5e:%u::fe\n",
					pi, pi - 1, pi, pi, pi, pi);
	fprintf(f,
		"# written by supernode-bench: one worker, one port (%s)\n"
		"runtime_dir: %s\n"
		"log_level: info\n"
		"dataplane:\n"
		"  eal_args: [\"--no-huge\", \"-m\", \"%u\", \"--file-prefix=%s\", \"--no-pci\", "
		"\"--log-level=*:notice\"]\n"
		"  main_lcore: 0\n"
		"  workers: [1]\n"
		"  mbufs: %u\n"
		"  mbuf_cache: 256\n"
		"  burst: 32\n"
		"  idle: {empty_polls: 0}  # always poll, as in production\n"
		"  ports:\n"
		"    - name: bench0\n"
		"      device: \"%s\"\n"
		"      ipv4: 198.18.0.1/24\n"
		"      ipv6: 2001:db8:5e::1/64\n"
		"      gateway4: 198.18.0.254\n"
		"      gateway6: 2001:db8:5e::fe\n"
		"      mtu: 1500\n"
		"%s"
		"  dispatch:\n"
		"    - {port: %u, handler: turn}\n"
		"    - {port: %u, handler: dht}\n"
		"turn:\n"
		"  relay_port_min: %u\n"
		"  relay_port_max: %u\n"
		"  max_allocations: %u\n"
		"  max_permissions: 4\n"
		"  max_channels: 4\n"
		"dht:\n"
		"  network_id: %u\n"
		"  bootstrap: []\n",
		device, run_dir, mem, prefix, mbufs, device, extra, BENCH_TURN_PORT, BENCH_DHT_PORT,
		BENCH_RELAY_MIN, BENCH_RELAY_MAX, max_allocs, BENCH_NETWORK_ID);
	if (o->guard == GUARD_OPEN) {
		static const char *const kinds[] = {"dht", "stun", "punt"};
		fprintf(f, "guard:\n");
		for (int scope = 0; scope < 2; scope++) {
			fprintf(f, "  %s:\n", scope ? "prefix" : "source");
			for (int k = 0; k < 3; k++)
				fprintf(f, "    %s_rate_pps: 100000000\n    %s_burst: 100000000\n",
					kinds[k], kinds[k]);
		}
		fprintf(f, "  aggregate_rate_pps: 100000000\n  aggregate_burst: 100000000\n");
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

static bool log_has(const char *log, const char *needle)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* From the log line "... guard on: N policer entries of B bytes per worker ...". */
static bool log_scan(const char *log, const char *needle, unsigned *entries, unsigned *bytes)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s = strstr(line, needle);
		if (!s)
			continue;
		char *e = s;
		while (e > line && e[-1] == ' ')
			e--;
		while (e > line && e[-1] >= '0' && e[-1] <= '9')
			e--;
		*entries = (unsigned)strtoul(e, NULL, 10);
		*bytes = (unsigned)strtoul(s + strlen(needle), NULL, 10);
		found = *bytes > 0;
	}
	fclose(f);
	return found;
}

/* Loads TURN then DHT tables; *rss_mid is the dataplane's RSS between the two. */
static int load_tables(const struct hopts *o, struct chan *c, pid_t dp, uint32_t *allocs,
		       uint32_t *routes, long *rss_mid)
{
	const struct bench_plan *p = &o->plan;
	int rc = 0;
	*allocs = *routes = 0;
	if (bench_scenario_turn(p->scenario)) {
		uint64_t exp = wall_ns() + 24ull * 3600 * 1000000000ull;
		for (uint32_t i = 0; i < p->allocations && !rc; i++) {
			struct sn_turn_alloc_key ak;
			struct sn_turn_alloc_value av;
			struct sn_turn_perm_key pk;
			struct sn_turn_perm_value pv;
			struct sn_turn_channel_key ck;
			struct sn_turn_channel_value cv;
			bench_alloc_entry(i, exp, &ak, &av, &pk, &pv, &ck, &cv);
			rc = chan_table(c, SN_TABLE_TURN_ALLOC, &ak, sizeof(ak), &av, sizeof(av));
			if (!rc)
				rc = chan_table(c, SN_TABLE_TURN_PERM, &pk, sizeof(pk), &pv,
						sizeof(pv));
			if (!rc)
				rc = chan_table(c, SN_TABLE_TURN_CHANNEL, &ck, sizeof(ck), &cv,
						sizeof(cv));
		}
		*allocs = p->allocations;
		if (!rc)
			rc = chan_drain(c, 60);
	}
	*rss_mid = rss_kb(dp);
	if (!rc && bench_scenario_dht(p->scenario)) {
		struct sn_dht_state_key sk;
		struct sn_dht_state_value sv;
		bench_dht_state(p, &sk, &sv);
		rc = chan_table(c, SN_TABLE_DHT_STATE, &sk, sizeof(sk), &sv, sizeof(sv));
		for (uint32_t r = 0; r < p->routes && !rc; r++) {
			struct sn_dht_node_key nk;
			struct sn_dht_node_value nv;
			bench_dht_node(p, r, &nk, &nv);
			rc = chan_table(c, SN_TABLE_DHT_NODE, &nk, sizeof(nk), &nv, sizeof(nv));
		}
		*routes = p->routes;
	}
	if (!rc)
		rc = chan_drain(c, 60);
	return rc;
}

int bench_dataplane_main(int argc, char **argv)
{
	struct hopts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 64;
	const struct bench_plan *p = &o.plan;
	char dir[PATH_MAX], pcap[PATH_MAX], run_dir[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX];
	char prefix[64], bin[PATH_MAX];
	if (make_workdir(&o, dir, sizeof(dir), "dataplane") < 0)
		return 1;
	if (pjoin(run_dir, sizeof(run_dir), dir, "run") < 0 ||
	    pjoin(log, sizeof(log), dir, "dataplane.log") < 0)
		return 1;
	snprintf(prefix, sizeof(prefix), "%s", o.prefix ? o.prefix : "");
	if (!o.prefix)
		snprintf(prefix, sizeof(prefix), "snbench%d", (int)getpid());
	if (dataplane_bin(&o, bin, sizeof(bin)) < 0)
		return 1;
	if (o.pcap) {
		snprintf(pcap, sizeof(pcap), "%s", o.pcap);
	} else {
		char name[64];
		snprintf(name, sizeof(name), "%s.pcap", bench_scenario_names[p->scenario]);
		if (pjoin(pcap, sizeof(pcap), dir, name) < 0)
			return 1;
		note("dataplane: writing %u frames of %s to %s", p->packets,
		     bench_scenario_names[p->scenario], pcap);
		if (bench_write_pcap(p, pcap) < 0)
			return 1;
	}
	uint32_t mbufs = mbufs_for(p->packets + 2);
	unsigned mem = memory_for(&o, mbufs);
	char device[PATH_MAX + 64];
	snprintf(device, sizeof(device), "net_pcap0,rx_pcap=%s,infinite_rx=1", pcap);
	if (write_config(&o, dir, device, run_dir, prefix, mbufs, mem, cfg, sizeof(cfg)) < 0)
		return 1;

	char *dp_argv[] = {bin, "--config", cfg, NULL};
	pid_t dp = spawn(dp_argv, log, NULL);
	if (dp < 0) {
		note("dataplane: cannot start %s: %s", bin, strerror(errno));
		return 1;
	}
	note("dataplane: pid %d, config %s, log %s", (int)dp, cfg, log);
	int exit_code = 1;
	struct chan *c = calloc(1, sizeof(*c));
	const struct sn_stats_segment *seg = NULL;
	if (!c)
		goto out;
	if (chan_connect(c, run_dir, dp, 120) < 0 || chan_hello(c) < 0) {
		note("dataplane: no control channel");
		goto out;
	}
	/* net_pcap names its MAC after the port index; frames are addressed to it. */
	char mac_line[64];
	snprintf(mac_line, sizeof(mac_line), "mac %02x:%02x:%02x:%02x:%02x:%02x", p->app_mac[0],
		 p->app_mac[1], p->app_mac[2], p->app_mac[3], p->app_mac[4], p->app_mac[5]);
	bool mac_ok = log_has(log, mac_line);
	if (!mac_ok)
		note("dataplane: its port MAC is not %s (see %s): frames will be dropped",
		     mac_line + 4, log);
	seg = sn_stats_open(run_dir);
	if (!seg) {
		note("dataplane: stats segment in %s: %s", run_dir, strerror(errno));
		goto out;
	}
	long rss0 = rss_kb(dp);
	uint64_t t_load = mono_ns();
	uint32_t allocs, routes;
	long rss_mid;
	rc = load_tables(&o, c, dp, &allocs, &routes, &rss_mid);
	double load_s = (double)(mono_ns() - t_load) / 1e9;
	if (rc < 0 || c->errors) {
		note("dataplane: loading tables: %s; %u of %u commands refused (first: %s)",
		     rc < 0 ? strerror(-rc) : "ok", c->errors, c->acked, strerror(-c->first_error));
		goto out;
	}
	long rss1 = rss_kb(dp);
	note("dataplane: %u allocations, %u routes loaded in %.1f s (%u commands), RSS %ld -> "
	     "%ld kB",
	     allocs, routes, load_s, c->acked, rss0, rss1);

	/* Warm-up: neighbours learned, caches and counters rows touched. */
	uint64_t until = mono_ns() + 1000000000ull;
	while (mono_ns() < until)
		chan_read(c, 50);
	struct snap s0, s1;
	struct cpu_probe cp0 = cpu_probe(dp);
	snap_take(seg, &s0);
	until = s0.t_ns + (uint64_t)o.seconds * 1000000000ull;
	while (mono_ns() < until) {
		chan_keepalive(c);
		chan_read(c, 50);
	}
	snap_take(seg, &s1);
	struct cpu_probe cp1 = cpu_probe(dp);
	long rss2 = rss_kb(dp);
	if (!child_alive(dp)) {
		note("dataplane exited during the run");
		goto out;
	}

	double secs = (double)(s1.t_ns - s0.t_ns) / 1e9;
	uint64_t rx = s1.rx - s0.rx, tx = s1.tx - s0.tx;
	uint64_t busy = s1.busy_cycles - s0.busy_cycles;
	uint64_t punted = 0, expected = 0, unexpected = 0;
	for (int i = 0; i < SN_PUNT_MAX; i++)
		if (i != SN_PUNT_DHT_SEEN)
			punted += s1.punts[i] - s0.punts[i];
	for (int i = 0; i < SN_DROP_MAX; i++) {
		uint64_t d = s1.drops[i] - s0.drops[i];
		if (drop_expected(i))
			expected += d;
		else
			unexpected += d;
	}
	/* Punted packets leave through the channel, policed ones are dropped on purpose: what
	 * remains of rx - tx was lost. */
	int64_t loss = (int64_t)rx - (int64_t)tx - (int64_t)punted - (int64_t)expected;
	if (loss < 0)
		loss = 0;
	double pps = (double)rx / secs, share;
	double cpu_cpp = cpu_cycles_per_packet(&cp0, &cp1, rx, &share);
	printf("{\"scenario\":\"%s\",\"pps\":%.0f,\"pps_per_core\":%.0f,\"tx_pps\":%.0f,"
	       "\"cycles_per_packet\":%.1f,\"cpu_cycles_per_packet\":%.1f,"
	       "\"worker_cpu_share\":%.2f,\"cores\":1,\"rx\":%llu,\"tx\":%llu,\"punted\":%llu,"
	       "\"policed\":%llu,\"unexpected_drops\":%llu,\"loss\":%lld,"
	       "\"loss_ratio\":%.6f,\"seconds\":%.2f,\"allocations\":%u,\"routes\":%u,"
	       "\"packets_in_pcap\":%u,\"srtp\":%s,\"guard\":\"%s\",\"mac_ok\":%s,\"load_seconds\":"
	       "%.1f,"
	       "\"rss_kb\":{\"before_load\":%ld,\"after_load\":%ld,\"after_run\":%ld}",
	       bench_scenario_names[p->scenario], pps, pps, (double)tx / secs,
	       rx ? (double)busy / (double)rx : 0.0, cpu_cpp, share, (unsigned long long)rx,
	       (unsigned long long)tx, (unsigned long long)punted, (unsigned long long)expected,
	       (unsigned long long)unexpected, (long long)loss,
	       rx ? (double)loss / (double)rx : 0.0, secs, allocs, routes, p->packets,
	       p->srtp ? "true" : "false", o.guard == GUARD_OPEN ? "open" : "default",
	       mac_ok ? "true" : "false", load_s, rss0, rss1, rss2);
	/* Memory: what the process grew by while the tables were loaded (the TURN table's
	 * objects, index slots and hash buckets touched), and after the run (per-lcore traffic
	 * counter rows touched too). */
	if (allocs)
		printf(",\"bytes_per_allocation\":%.1f,\"bytes_per_allocation_after_run\":%.1f",
		       (double)(rss_mid - rss0) * 1024.0 / allocs,
		       (double)(rss2 - rss0 - (rss1 - rss_mid)) * 1024.0 / allocs);
	if (routes)
		printf(",\"bytes_per_route\":%.1f", (double)(rss1 - rss_mid) * 1024.0 / routes);
	printf(",\"drops\":{");
	bool first = true;
	for (int i = 0; i < SN_DROP_MAX; i++) {
		uint64_t d = s1.drops[i] - s0.drops[i];
		if (!d)
			continue;
		printf("%s\"%s\":%llu", first ? "" : ",", sn_drop_reason_names[i],
		       (unsigned long long)d);
		first = false;
	}
	printf("},\"answers\":{\"turn_to_peer\":%llu,\"dht_ping\":%llu,\"dht_find\":%llu}",
	       (unsigned long long)(s1.counters[SN_CTR_TURN_TO_PEER_PACKETS] -
				    s0.counters[SN_CTR_TURN_TO_PEER_PACKETS]),
	       (unsigned long long)(s1.counters[SN_CTR_DHT_PING_ANSWERS] -
				    s0.counters[SN_CTR_DHT_PING_ANSWERS]),
	       (unsigned long long)(s1.counters[SN_CTR_DHT_FIND_ANSWERS] -
				    s0.counters[SN_CTR_DHT_FIND_ANSWERS]));
	/* Per-source policer memory: the guard table is a fixed array sized at start-up, so
	 * the dataplane's own line is the figure (entries x entry bytes, per worker). */
	unsigned g_entries = 0, g_bytes = 0;
	if (log_scan(log, "policer entries of", &g_entries, &g_bytes))
		printf(",\"bytes_per_policed_source\":%u,\"policed_sources_per_worker\":%u",
		       g_bytes, g_entries);
	else
		printf(",\"bytes_per_policed_source\":null");
	printf("}\n");
	fflush(stdout);
	exit_code = mac_ok ? 0 : 1;
out:
	if (seg)
		sn_stats_close(seg);
	if (c && c->fd >= 0)
		close(c->fd);
	free(c);
	int st = stop_child(dp);
	if (st != 0)
		note("dataplane exit status %d (log %s)", st, log);
	if (exit_code == 0)
		remove_workdir(&o, dir);
	else
		note("workdir kept: %s", dir);
	return exit_code;
}

/* --- testpmd --- */

/* The number after the nth-from-last occurrence of key (SIZE_MAX: the first). */
static int64_t last_number_after(const char *text, const char *key, size_t nth_from_end)
{
	const char *hits[64];
	size_t n = 0;
	for (const char *s = strstr(text, key); s && n < 64; s = strstr(s + 1, key))
		hits[n++] = s;
	if (!n || (nth_from_end != SIZE_MAX && n <= nth_from_end))
		return -1;
	const char *s =
	    (nth_from_end == SIZE_MAX ? hits[0] : hits[n - 1 - nth_from_end]) + strlen(key);
	while (*s == ' ' || *s == '=')
		s++;
	return strtoll(s, NULL, 10);
}

static double number_after(const char *text, const char *key)
{
	const char *s = strstr(text, key);
	if (!s)
		return -1;
	return strtod(s + strlen(key), NULL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf) {
		size_t got = fread(buf, 1, (size_t)n, f);
		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

static int pmd_cmd(int fd, const char *cmd)
{
	size_t len = strlen(cmd);
	return write(fd, cmd, len) == (ssize_t)len ? 0 : -errno;
}

int bench_testpmd_main(int argc, char **argv)
{
	struct hopts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 64;
	char dir[PATH_MAX], pcap[PATH_MAX], log[PATH_MAX], vdev[PATH_MAX + 64];
	char prefix[64], mem[16], mbufs_arg[48];
	if (make_workdir(&o, dir, sizeof(dir), "testpmd") < 0)
		return 1;
	if (o.pcap) {
		snprintf(pcap, sizeof(pcap), "%s", o.pcap);
	} else {
		char name[64];
		snprintf(name, sizeof(name), "%s.pcap", bench_scenario_names[o.plan.scenario]);
		if (pjoin(pcap, sizeof(pcap), dir, name) < 0)
			return 1;
		if (bench_write_pcap(&o.plan, pcap) < 0)
			return 1;
	}
	/* net_pcap's infinite_rx keeps a copy of every frame in the pool. */
	long frames = pcap_frames(pcap);
	if (frames < 0) {
		note("testpmd: %s is not a readable pcap", pcap);
		return 1;
	}
	uint32_t mbufs = mbufs_for((uint32_t)frames);
	if (pjoin(log, sizeof(log), dir, "testpmd.log") < 0)
		return 1;
	snprintf(prefix, sizeof(prefix), "%s", o.prefix ? o.prefix : "");
	if (!o.prefix)
		snprintf(prefix, sizeof(prefix), "snbench-tp%d", (int)getpid());
	snprintf(mem, sizeof(mem), "%u", memory_for(&o, mbufs));
	snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s,infinite_rx=1", pcap);
	snprintf(mbufs_arg, sizeof(mbufs_arg), "--total-num-mbufs=%u", mbufs);
	char *bin = (char *)(o.binary ? o.binary : "/usr/bin/dpdk-testpmd");
	char *pfx_arg = NULL;
	if (asprintf(&pfx_arg, "--file-prefix=%s", prefix) < 0)
		return 1;
	char *args[] = {bin,
			"-l",
			(char *)(o.lcores ? o.lcores : "0,1"),
			"--no-huge",
			"-m",
			mem,
			pfx_arg,
			"--no-pci",
			"--log-level=*:notice",
			"--vdev",
			vdev,
			"--",
			"-i",
			"--forward-mode=macswap",
			"--port-topology=loop",
			"--nb-cores=1",
			"--record-core-cycles",
			mbufs_arg,
			NULL};
	int in = -1;
	pid_t pid = spawn(args, log, &in);
	free(pfx_arg);
	if (pid < 0) {
		note("testpmd: cannot start %s: %s", bin, strerror(errno));
		return 1;
	}
	note("testpmd: pid %d, log %s", (int)pid, log);
	int exit_code = 1;
	/* Wait for the prompt's first line of output that says ports started. */
	uint64_t deadline = mono_ns() + 120000000000ull;
	while (mono_ns() < deadline && child_alive(pid) && !log_has(log, "testpmd>") &&
	       !log_has(log, "Done"))
		sleep_ms(100);
	if (!child_alive(pid)) {
		note("testpmd exited during start-up (see %s)", log);
		goto out;
	}
	sleep_ms(500);
	pmd_cmd(in, "start\n");
	sleep_ms(1000);
	pmd_cmd(in, "show port stats all\n");
	uint64_t t0 = mono_ns();
	struct cpu_probe cp0 = cpu_probe(pid);
	sleep_ms(o.seconds * 1000u);
	pmd_cmd(in, "show port stats all\n");
	uint64_t t1 = mono_ns();
	struct cpu_probe cp1 = cpu_probe(pid);
	sleep_ms(300);
	pmd_cmd(in, "stop\n");
	sleep_ms(1000);
	pmd_cmd(in, "quit\n");
	close(in);
	in = -1;
	deadline = mono_ns() + 15000000000ull;
	int status = 0;
	while (mono_ns() < deadline && waitpid(pid, &status, WNOHANG) == 0)
		sleep_ms(100);
	if (child_alive(pid))
		stop_child(pid);
	pid = -1;

	char *text = slurp(log);
	if (!text) {
		note("testpmd: no log");
		goto out;
	}
	/* TX-packets of the two "show port stats all" blocks ("stop" prints more of them). */
	int64_t tx0 = -1, tx1 = -1;
	const char *blk = text;
	for (const char *b = strstr(text, "NIC statistics for port"); b;
	     b = strstr(b + 1, "NIC statistics for port"))
		blk = b;
	const char *prev = NULL;
	for (const char *b = strstr(text, "NIC statistics for port"); b && b < blk;
	     b = strstr(b + 1, "NIC statistics for port"))
		prev = b;
	if (prev && blk != text) {
		tx0 = last_number_after(prev, "TX-packets:", SIZE_MAX);
		tx1 = last_number_after(blk, "TX-packets:", SIZE_MAX);
	}
	double cpp = number_after(text, "CPU cycles/packet=");
	double secs = (double)(t1 - t0) / 1e9;
	if (tx0 < 0 || tx1 < tx0) {
		note("testpmd: could not read TX-packets from %s", log);
		free(text);
		goto out;
	}
	double pps = (double)(tx1 - tx0) / secs, share;
	double cpu_cpp = cpu_cycles_per_packet(&cp0, &cp1, (uint64_t)(tx1 - tx0), &share);
	int64_t tx_pps = last_number_after(blk, "Tx-pps:", SIZE_MAX);
	printf("{\"scenario\":\"testpmd-macswap\",\"pps\":%.0f,\"pps_per_core\":%.0f,"
	       "\"testpmd_tx_pps\":%lld,\"cycles_per_packet\":%.1f,\"cpu_cycles_per_packet\":"
	       "%.1f,\"worker_cpu_share\":%.2f,\"cores\":1,\"tx\":%lld,"
	       "\"seconds\":%.2f,\"pcap\":\"%s\"}\n",
	       pps, pps, (long long)tx_pps, cpp, cpu_cpp, share, (long long)(tx1 - tx0), secs,
	       pcap);
	fflush(stdout);
	free(text);
	exit_code = 0;
out:
	if (in >= 0)
		close(in);
	if (pid > 0)
		stop_child(pid);
	if (exit_code == 0)
		remove_workdir(&o, dir);
	else
		note("workdir kept: %s", dir);
	return exit_code;
}

/* --- latency --- */

#ifdef SN_BENCH_HAVE_DPDK
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define LAT_MAGIC   0x534e4c41544e4359ull /* "SNLATNCY" */
#define LAT_SAMPLES (4u << 20)		  /* latencies kept (the rest counted) */
#define LAT_FRAMES  4096u		  /* distinct frames cycled through */
#define LAT_DP_MAC  "02:00:00:00:00:01"	  /* the dataplane's memif MAC */

/* Offset of the stamp from the start of the UDP payload in each direction: client ->
 * appliance carries ChannelData (4-byte header) around the RTP packet, appliance -> peer the
 * RTP packet alone; the stamp goes over the first 16 bytes after the RTP header. */
#define LAT_STAMP_IN  (4 + 12)
#define LAT_STAMP_OUT 12

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* UDP payload offset of an Ethernet/IPv4|IPv6/UDP frame, or -1. */
static int udp_payload_off(const uint8_t *f, uint32_t len)
{
	if (len < 14 + 20 + 8)
		return -1;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == 0x0800 && f[14 + 9] == 17)
		return 14 + (f[14] & 15) * 4 + 8;
	if (type == 0x86dd && len >= 14 + 40 + 8 && f[14 + 6] == 17)
		return 14 + 40 + 8;
	return -1;
}

/* Writes 16 bytes at payload offset `off` (even) and updates the UDP checksum (RFC 1624). */
static void stamp_frame(uint8_t *f, int pl, int off, const uint8_t *stamp)
{
	uint8_t *udp = f + pl - 8, *p = f + pl + off;
	uint32_t sum = (uint16_t) ~(udp[6] << 8 | udp[7]);
	for (int i = 0; i < 16; i += 2) {
		sum += (uint16_t) ~(p[i] << 8 | p[i + 1]);
		sum += (uint32_t)(stamp[i] << 8 | stamp[i + 1]);
	}
	memcpy(p, stamp, 16);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (!c)
		c = 0xffff;
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
}

int bench_latency_main(int argc, char **argv)
{
	struct hopts o;
	unsigned long rate = 100000;
	/* --rate is the latency subcommand's own option; the rest are the harness's. */
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	int n_args = 0;
	if (!args)
		return 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
			rate = strtoul(argv[++i], NULL, 0);
			continue;
		}
		if (!strncmp(argv[i], "--rate=", 7)) {
			rate = strtoul(argv[i] + 7, NULL, 0);
			continue;
		}
		args[n_args++] = argv[i];
	}
	int rc = parse_opts(n_args, args, &o);
	free(args);
	if (rc)
		return rc > 0 ? 0 : 64;
	if (o.plan.scenario != BENCH_CHANNELDATA) {
		note("latency: only --scenario channeldata (its relayed packets come back on the "
		     "same link)");
		return 64;
	}
	if (rate < 1 || rate > 50000000) {
		note("latency: --rate must be 1..50000000 packets per second");
		return 64;
	}
	struct bench_plan *p = &o.plan;
	unsigned mac[6];
	sscanf(LAT_DP_MAC, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
	       &mac[5]);
	for (int i = 0; i < 6; i++)
		p->app_mac[i] = (uint8_t)mac[i];

	char dir[PATH_MAX], run_dir[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[PATH_MAX];
	char prefix[64], gen_prefix[80], bin[PATH_MAX];
	if (make_workdir(&o, dir, sizeof(dir), "latency") < 0 ||
	    pjoin(run_dir, sizeof(run_dir), dir, "run") < 0 ||
	    pjoin(log, sizeof(log), dir, "dataplane.log") < 0 ||
	    pjoin(sock, sizeof(sock), dir, "memif.sock") < 0)
		return 1;
	if (dataplane_bin(&o, bin, sizeof(bin)) < 0)
		return 1;
	if (o.prefix)
		snprintf(prefix, sizeof(prefix), "%s", o.prefix);
	else
		snprintf(prefix, sizeof(prefix), "snbench%d", (int)getpid());
	snprintf(gen_prefix, sizeof(gen_prefix), "%s-gen", prefix);

	/* The generator: one lcore (0, shared with the dataplane's main lcore, which sleeps
	 * in poll()), memif server; the dataplane is the client. */
	char vdev[PATH_MAX + 64], pfx_arg[96];
	snprintf(vdev, sizeof(vdev), "net_memif0,role=server,socket=%s,socket-abstract=no", sock);
	snprintf(pfx_arg, sizeof(pfx_arg), "--file-prefix=%s", gen_prefix);
	char *eal[] = {"supernode-bench",
		       "-l",
		       "0",
		       "--no-huge",
		       "-m",
		       "256",
		       pfx_arg,
		       "--no-pci",
		       "--vdev",
		       vdev,
		       "--log-level=*:notice",
		       NULL};
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		note("latency: EAL init: %s", rte_strerror(rte_errno));
		return 1;
	}
	int exit_code = 1;
	pid_t dp = -1;
	struct chan *c = NULL;
	uint64_t *lat = NULL;
	struct bench_gen *g = NULL;
	uint8_t(*frames)[BENCH_MAX_FRAME] = NULL;
	uint16_t *flen = NULL;
	uint16_t port = 0;
	struct rte_mempool *pool =
	    rte_pktmbuf_pool_create("lat_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (!pool || rte_eth_dev_get_port_by_name("net_memif0", &port) < 0 ||
	    rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(port, 0, 1024, 0, NULL, pool) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, 1024, 0, NULL) < 0 || rte_eth_dev_start(port) < 0) {
		note("latency: memif server port: %s", rte_strerror(rte_errno));
		goto out;
	}

	char device[PATH_MAX + 96];
	snprintf(device, sizeof(device),
		 "net_memif0,role=client,socket=%s,socket-abstract=no,mac=%s", sock, LAT_DP_MAC);
	if (write_config(&o, dir, device, run_dir, prefix, 8191, memory_for(&o, 8191), cfg,
			 sizeof(cfg)) < 0)
		goto out;
	char *dp_argv[] = {bin, "--config", cfg, NULL};
	dp = spawn(dp_argv, log, NULL);
	if (dp < 0) {
		note("latency: cannot start %s: %s", bin, strerror(errno));
		goto out;
	}
	note("latency: dataplane pid %d, config %s, log %s", (int)dp, cfg, log);
	c = calloc(1, sizeof(*c));
	if (!c || chan_connect(c, run_dir, dp, 120) < 0 || chan_hello(c) < 0)
		goto out;
	uint32_t allocs, routes;
	long rss_mid;
	if (load_tables(&o, c, dp, &allocs, &routes, &rss_mid) < 0 || c->errors) {
		note("latency: loading tables failed (%u refused)", c->errors);
		goto out;
	}
	struct rte_eth_link link;
	uint64_t deadline = mono_ns() + 30000000000ull;
	do {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(port, &link);
		if (!link.link_status)
			sleep_ms(50);
	} while (!link.link_status && mono_ns() < deadline);
	if (!link.link_status) {
		note("latency: memif link did not come up in 30 s");
		goto out;
	}

	/* Frames: the neighbour frames first (teach the dataplane the gateway's MAC), then
	 * LAT_FRAMES ChannelData frames cycled with a stamp each. */
	g = bench_gen_new(p);
	frames = calloc(LAT_FRAMES, sizeof(*frames));
	flen = calloc(LAT_FRAMES, sizeof(*flen));
	lat = malloc(LAT_SAMPLES * sizeof(*lat));
	if (!g || !frames || !flen || !lat)
		goto out;
	for (uint32_t i = 0; i < LAT_FRAMES; i++)
		flen[i] = bench_gen_frame(g, i, frames[i]);
	for (int fam = 4; fam <= 6; fam += 2) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (!m)
			goto out;
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		m->data_len = m->pkt_len = bench_gen_neigh_frame(p, fam, d);
		if (rte_eth_tx_burst(port, 0, &m, 1) != 1)
			rte_pktmbuf_free(m);
	}
	sleep_ms(200);

	uint64_t hz = rte_get_tsc_hz(), gap = hz / rate;
	uint64_t sent = 0, received = 0, kept = 0, other = 0, warm_until = 0;
	uint64_t start = rte_rdtsc(), next = start;
	uint64_t warm = start + hz, end = warm + (uint64_t)o.seconds * hz;
	uint64_t sent_at_warm = 0;
	(void)warm_until;
	while (rte_rdtsc() < end + hz / 2) {
		uint64_t now = rte_rdtsc();
		struct rte_mbuf *tx[32];
		unsigned nt = 0;
		while (now < end && next <= now && nt < 32) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			if (!m)
				break;
			uint32_t k = (uint32_t)(sent % LAT_FRAMES);
			uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
			memcpy(d, frames[k], flen[k]);
			int pl = udp_payload_off(d, flen[k]);
			uint64_t stamp[2] = {LAT_MAGIC, rte_rdtsc()};
			stamp_frame(d, pl, LAT_STAMP_IN, (const uint8_t *)stamp);
			m->data_len = m->pkt_len = flen[k];
			tx[nt++] = m;
			sent++;
			next += gap;
		}
		if (now >= warm && !sent_at_warm)
			sent_at_warm = sent;
		if (nt) {
			unsigned done = rte_eth_tx_burst(port, 0, tx, (uint16_t)nt);
			for (unsigned i = done; i < nt; i++)
				rte_pktmbuf_free(tx[i]);
			sent -= nt - done;
		}
		struct rte_mbuf *rx[32];
		uint16_t nr = rte_eth_rx_burst(port, 0, rx, 32);
		uint64_t t = rte_rdtsc();
		for (uint16_t i = 0; i < nr; i++) {
			const uint8_t *d = rte_pktmbuf_mtod(rx[i], const uint8_t *);
			int pl = udp_payload_off(d, rx[i]->data_len);
			uint64_t stamp[2];
			if (pl > 0 && (uint32_t)pl + LAT_STAMP_OUT + 16 <= rx[i]->data_len) {
				memcpy(stamp, d + pl + LAT_STAMP_OUT, 16);
				if (stamp[0] == LAT_MAGIC) {
					received++;
					if (stamp[1] >= warm && kept < LAT_SAMPLES)
						lat[kept++] = t - stamp[1];
				} else {
					other++;
				}
			} else {
				other++;
			}
			rte_pktmbuf_free(rx[i]);
		}
		if (!nt && !nr && (mono_ns() & 0x3f) == 0)
			chan_read(c, 0);
	}
	if (!kept) {
		note("latency: no stamped packet came back (%lu sent); see %s", (unsigned long)sent,
		     log);
		goto out;
	}
	qsort(lat, kept, sizeof(*lat), cmp_u64);
	double us = 1e6 / (double)hz;
#define PCT(q) ((double)lat[(size_t)((double)(kept - 1) * (q))] * us)
	/* On a loaded 2-vCPU machine the generator may not keep up: say what it sent. */
	printf("{\"scenario\":\"latency-channeldata\",\"rate\":%lu,\"achieved_rate\":%.0f,"
	       "\"sent\":%llu,\"received\":%llu,"
	       "\"loss\":%lld,\"samples\":%llu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
	       "\"max_us\":%.2f,\"seconds\":%u,\"allocations\":%u,\"other_frames\":%llu,"
	       "\"note\":\"generator and dataplane on 2 shared cores: pessimistic\"}\n",
	       rate, (double)(sent - sent_at_warm) / (double)o.seconds, (unsigned long long)sent,
	       (unsigned long long)received, (long long)(sent - received), (unsigned long long)kept,
	       PCT(0.5), PCT(0.99), PCT(0.999), (double)lat[kept - 1] * us, o.seconds, allocs,
	       (unsigned long long)other);
#undef PCT
	fflush(stdout);
	exit_code = 0;
out:
	free(lat);
	free(frames);
	free(flen);
	bench_gen_free(g);
	if (c && c->fd >= 0)
		close(c->fd);
	free(c);
	if (dp > 0) {
		int st = stop_child(dp);
		if (st != 0)
			note("dataplane exit status %d (log %s)", st, log);
	}
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	if (exit_code == 0)
		remove_workdir(&o, dir);
	else
		note("workdir kept: %s", dir);
	return exit_code;
}
#else
int bench_latency_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	note("latency: this supernode-bench was built without DPDK");
	return 1;
}
#endif
