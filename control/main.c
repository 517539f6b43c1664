/* supernode-control: the management plane. One epoll loop (signals, a periodic tick, the
 * control channel, the admin socket) plus libmicrohttpd's thread for /metrics. */
#include "admin.h"
#include "chan.h"
#include "counters.h"
#include "dht.h"
#include "echo.h"
#include "event.h"
#include "guard.h"
#include "http.h"
#include "promotion.h"
#include "trust.h"
#include "reload.h"
#include "sn_config.h"
#include "sn_log.h"
#include "turn.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define TICK_MAX_MS	 100u /* loop tick; shorter when reconnect/keepalive periods are */
#define TICK_MIN_MS	 10u
#define SAMPLE_PERIOD_NS CTL_NS_PER_SEC /* admin rate samples */
#define MAX_EVENTS	 32

struct ctl_main {
	struct sn_config cfg;
	bool cfg_loaded;
	int epfd;
	int sigfd;
	int timerfd;
	struct ctl_ev ev_sig;
	struct ctl_ev ev_timer;
	struct ctl_ev ev_chan;
	bool stop;
	uint64_t next_sample_ns;
	struct ctl_counters ctr;
	struct ctl_chan chan;
	bool chan_ok;
	struct ctl_admin admin;
	bool admin_ok;
	struct ctl_http http;
	struct ctl_dht *dht;	     /* OpenDHT node (dht.h); NULL when off */
	struct ctl_reload reload;    /* SIGHUP and `supernodectl reload` */
	struct ctl_turn *turn;	     /* TURN requests and allocations (turn.h) */
	struct ctl_promotion *promo; /* client metrics and promotions (promotion.h); NULL: off */
};

static void usage(FILE *out)
{
	fprintf(out, "usage: supernode-control --config FILE [-v]\n"
		     "       supernode-control --config-doc\n"
		     "  --config FILE  the appliance config (YAML)\n"
		     "  --check        validate the whole config file and exit (0 ok, 2 error)\n"
		     "  -v, --verbose  debug logging\n"
		     "  --config-doc   print every config field as Markdown and exit\n"
		     "  --version      print the version and exit\n");
}

/* mkdir -p with mode for the missing components. */
static int mkdir_p(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int epoll_add(int epfd, int fd, struct ctl_ev *ev)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = ev};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static int setup_loop(struct ctl_main *m, sigset_t *mask)
{
	uint32_t tick_ms = TICK_MAX_MS;
	struct itimerspec its;

	if (m->cfg.control.reconnect_ms && m->cfg.control.reconnect_ms < tick_ms)
		tick_ms = m->cfg.control.reconnect_ms;
	if (m->cfg.control.keepalive_ms && m->cfg.control.keepalive_ms < tick_ms)
		tick_ms = m->cfg.control.keepalive_ms;
	if (tick_ms < TICK_MIN_MS)
		tick_ms = TICK_MIN_MS;

	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0) {
		SN_ERR("epoll_create1: %s", strerror(errno));
		return -errno;
	}
	m->sigfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sigfd < 0) {
		SN_ERR("signalfd: %s", strerror(errno));
		return -errno;
	}
	m->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timerfd < 0) {
		SN_ERR("timerfd_create: %s", strerror(errno));
		return -errno;
	}
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_nsec = (long)tick_ms * 1000000L;
	its.it_value.tv_nsec = 1; /* first tick at once: connect without waiting */
	if (timerfd_settime(m->timerfd, 0, &its, NULL) < 0) {
		SN_ERR("timerfd_settime: %s", strerror(errno));
		return -errno;
	}
	m->ev_sig = (struct ctl_ev){CTL_EV_SIGNAL, m};
	m->ev_timer = (struct ctl_ev){CTL_EV_TIMER, m};
	m->ev_chan = (struct ctl_ev){CTL_EV_CHAN, &m->chan};
	if (epoll_add(m->epfd, m->sigfd, &m->ev_sig) < 0 ||
	    epoll_add(m->epfd, m->timerfd, &m->ev_timer) < 0) {
		SN_ERR("epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void on_signal(struct ctl_main *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			SN_INFO("%s: shutting down", strsignal((int)si.ssi_signo));
			m->stop = true;
			break;
		case SIGHUP:
			SN_INFO("SIGHUP: reloading %s", m->cfg.path);
			ctl_reload_file(&m->reload, NULL, ctl_mono_ns()); /* logs the outcome */
			break;
		default:
			break;
		}
	}
}

static void on_tick(struct ctl_main *m)
{
	uint64_t expirations, now = ctl_mono_ns();

	if (read(m->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		SN_WARN("read timerfd: %s", strerror(errno));
	ctl_chan_tick(&m->chan, now);
	ctl_admin_tick(&m->admin, now);
	ctl_guard_tick(now);
	ctl_trust_tick(now);
	ctl_dht_tick(m->dht, now);
	ctl_turn_tick(m->turn, now);
	ctl_promotion_tick(m->promo, now);
	if (now >= m->next_sample_ns) {
		m->next_sample_ns = now + SAMPLE_PERIOD_NS;
		ctl_admin_sample(&m->admin.ctx, now);
	}
}

static int run(struct ctl_main *m)
{
	struct epoll_event evs[MAX_EVENTS];

	while (!m->stop) {
		int n = epoll_wait(m->epfd, evs, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			SN_ERR("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && !m->stop; i++) {
			struct ctl_ev *ev = evs[i].data.ptr;
			uint64_t now = ctl_mono_ns();

			switch (ev->kind) {
			case CTL_EV_SIGNAL:
				on_signal(m);
				break;
			case CTL_EV_TIMER:
				on_tick(m);
				break;
			case CTL_EV_CHAN:
				ctl_chan_on_event(&m->chan, evs[i].events, now);
				break;
			case CTL_EV_ADMIN_LISTEN:
				ctl_admin_on_accept(&m->admin, now);
				break;
			case CTL_EV_ADMIN_CONN:
				/* the tick earlier in this batch may have closed it: only
				 * dispatch to a live connection */
				for (int s = 0; s < CTL_ADMIN_MAX_CONNS; s++)
					if (m->admin.conns[s] == ev->obj) {
						ctl_admin_on_conn(&m->admin, ev->obj, evs[i].events,
								  now);
						break;
					}
				break;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"config-doc", no_argument, NULL, 'd'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {"check", no_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int verbose = 0, check = 0, opt, rc, status = 1;
	char err[512];
	sigset_t mask;
	struct ctl_main *m = NULL;

	sn_log_prog = "control";
	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			sn_config_print_doc(stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		case 'v':
			verbose++;
			break;
		case 'C':
			check = 1;
			break;
		case 'V':
			printf("supernode-control %s\n", SN_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}

	m = calloc(1, sizeof(*m));
	if (!m) {
		fprintf(stderr, "supernode-control: out of memory\n");
		return 1;
	}
	m->epfd = m->sigfd = m->timerfd = -1;
	rc = sn_config_load(config, &m->cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "supernode-control: %s\n", err);
		status = 2;
		goto out;
	}
	m->cfg_loaded = true;
	if (check) {
		printf("%s: ok\n", config);
		status = fflush(stdout) == 0 ? 0 : 1;
		goto out;
	}
	sn_log_level = m->cfg.log_level;
	if (verbose)
		sn_log_level = SN_LOG_DEBUG;

	/* Block the signals before any thread exists so libmicrohttpd's inherits the mask;
	 * they are read from the signalfd only. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		SN_ERR("sigprocmask: %s", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);

	rc = mkdir_p(m->cfg.runtime_dir, 0755);
	if (rc < 0) {
		SN_ERR("runtime dir %s: %s", m->cfg.runtime_dir, strerror(-rc));
		goto out;
	}
	if (setup_loop(m, &mask) < 0)
		goto out;
	m->ctr.start_time_ns = ctl_real_ns();

	struct ctl_chan_params cp = {
	    .runtime_dir = m->cfg.runtime_dir,
	    .reconnect_ms = m->cfg.control.reconnect_ms,
	    .keepalive_ms = m->cfg.control.keepalive_ms,
	    .dispatch = m->cfg.dataplane.dispatch,
	    .n_dispatch = m->cfg.dataplane.n_dispatch,
	    .epfd = m->epfd,
	    .ep_tag = &m->ev_chan,
	    .ctr = &m->ctr,
	};
	if (ctl_chan_init(&m->chan, &cp) < 0)
		goto out;
	m->chan_ok = true;
	ctl_chan_set_punt_handler(&m->chan, SN_PUNT_ECHO, ctl_echo_handle, NULL);
	if (ctl_guard_init(&m->cfg, &m->chan) < 0)
		goto out;
	if (ctl_trust_init(&m->cfg) < 0 || ctl_dht_init(&m->dht, &m->cfg, &m->chan) < 0)
		goto out;
	/* modules that apply config changes at runtime register with ctl_reload_register() */
	ctl_reload_init(&m->reload, &m->cfg, &m->chan, &m->ctr);
	if (ctl_trust_reload_register(&m->reload) < 0)
		goto out;
	m->reload.log_level_locked = verbose > 0;
	{
		char secret[PATH_MAX];
		struct ctl_turn_params tp = {
		    .cfg = &m->cfg,
		    .chan = &m->chan,
		    .secret_path = secret,
		};

		snprintf(secret, sizeof(secret), "%s/turn.secret", m->cfg.runtime_dir);
		if (ctl_turn_create(&m->turn, &tp) < 0 ||
		    ctl_turn_reload_register(m->turn, &m->reload) < 0)
			goto out;
		m->ctr.turn = ctl_turn_counters(m->turn);
	}
	if (ctl_promotion_init(&m->promo, &m->cfg, &m->chan, m->dht, m->ctr.turn) < 0)
		goto out;

	if (ctl_admin_open(&m->admin, m->cfg.runtime_dir, m->epfd, &m->chan, &m->ctr) < 0)
		goto out;
	m->admin_ok = true;
	m->admin.ctx.reload = &m->reload;
	m->admin.ctx.turn = m->turn;
	if (ctl_http_start(&m->http, m->cfg.control.metrics_listen, m->cfg.control.metrics_port,
			   m->cfg.runtime_dir, &m->ctr) < 0)
		goto out;

	SN_INFO("supernode-control %s started (pid %d, config %s, runtime dir %s)", SN_VERSION,
		(int)getpid(), config, m->cfg.runtime_dir);
	if (run(m) == 0)
		status = 0;
out:
	ctl_http_stop(&m->http);
	if (m->admin_ok)
		ctl_admin_close(&m->admin);
	ctl_promotion_fini(m->promo);
	m->ctr.turn = NULL;
	ctl_turn_destroy(m->turn);
	ctl_dht_fini(m->dht);
	ctl_trust_fini();
	ctl_guard_fini();
	if (m->chan_ok)
		ctl_chan_fini(&m->chan);
	if (m->timerfd >= 0)
		close(m->timerfd);
	if (m->sigfd >= 0)
		close(m->sigfd);
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->cfg_loaded)
		sn_config_free(&m->cfg);
	if (status == 0 && !check)
		SN_INFO("stopped");
	free(m);
	return status;
}
