#include "chan.h"
#include "sn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const state_names[] = {
    [CTL_CHAN_DISCONNECTED] = "disconnected",
    [CTL_CHAN_HELLO_WAIT] = "hello_wait",
    [CTL_CHAN_RESYNC] = "resync",
    [CTL_CHAN_READY] = "ready",
};

static const char *const handler_names[SN_UDP_HANDLER_MAX] = {
    [SN_UDP_HANDLER_DROP] = "drop", [SN_UDP_HANDLER_PUNT] = "punt", [SN_UDP_HANDLER_ECHO] = "echo",
    [SN_UDP_HANDLER_TURN] = "turn", [SN_UDP_HANDLER_DHT] = "dht",
};

const char *ctl_chan_state_name(enum ctl_chan_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

const char *ctl_udp_handler_name(unsigned handler)
{
	return handler < SN_UDP_HANDLER_MAX ? handler_names[handler] : "?";
}

static int family_index(uint8_t family)
{
	return family == AF_INET ? 0 : (family == AF_INET6 ? 1 : -1);
}

static const char *family_name(uint8_t family)
{
	return family == AF_INET ? "ipv4" : "ipv6";
}

unsigned ctl_chan_dispatch_slot(const struct ctl_chan *ch, uint8_t family, uint16_t port)
{
	int fi = family_index(family);

	if (fi < 0)
		return 0;
	return ch->dispatch[(unsigned)fi * 65536u + port];
}

static void dispatch_store(struct ctl_chan *ch, uint8_t family, uint16_t port, unsigned slot)
{
	int fi = family_index(family);
	uint8_t *p;

	if (fi < 0)
		return;
	p = &ch->dispatch[(unsigned)fi * 65536u + port];
	if (*p && !slot)
		ch->dispatch_entries--;
	else if (!*p && slot)
		ch->dispatch_entries++;
	*p = (uint8_t)slot;
}

static void dispatch_clear(struct ctl_chan *ch)
{
	memset(ch->dispatch, 0, CTL_DISPATCH_SLOTS);
	ch->dispatch_entries = 0;
}

int ctl_chan_init(struct ctl_chan *ch, const struct ctl_chan_params *p)
{
	int n;

	memset(ch, 0, sizeof(*ch));
	ch->fd = -1;
	ch->epfd = p->epfd;
	ch->ep_tag = p->ep_tag;
	ch->tx = p->tx;
	ch->ctr = p->ctr;
	ch->reconnect_ns = (uint64_t)(p->reconnect_ms ? p->reconnect_ms : 1000) * CTL_NS_PER_MS;
	ch->keepalive_ns = (uint64_t)(p->keepalive_ms ? p->keepalive_ms : 1000) * CTL_NS_PER_MS;
	ch->rl = (struct ctl_ratelimit)CTL_RATELIMIT_INIT(10000, 10);
	n = snprintf(ch->path, sizeof(ch->path), "%s/%s", p->runtime_dir, SN_CHANNEL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(ch->path)) {
		SN_ERR("runtime dir %s: channel socket path too long", p->runtime_dir);
		return -ENAMETOOLONG;
	}
	ch->dispatch = calloc(1, CTL_DISPATCH_SLOTS);
	if (!ch->dispatch) {
		SN_ERR("dispatch view: out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < p->n_dispatch && i < SN_CONFIG_MAX_DISPATCH; i++) {
		if (p->dispatch[i].handler >= SN_UDP_HANDLER_MAX) {
			SN_WARN("dispatch port %u: handler %u unknown, ignored",
				p->dispatch[i].port, p->dispatch[i].handler);
			continue;
		}
		for (int f = 0; f < 2; f++) {
			struct ctl_dispatch_want *w = &ch->want[ch->n_want++];

			w->port = p->dispatch[i].port;
			w->handler = p->dispatch[i].handler;
			w->family = f == 0 ? AF_INET : AF_INET6;
		}
	}
	return 0;
}

void ctl_chan_fini(struct ctl_chan *ch)
{
	if (ch->fd >= 0)
		close(ch->fd);
	ch->fd = -1;
	ch->session = false;
	free(ch->dispatch);
	ch->dispatch = NULL;
	if (ch->ctr)
		ctl_ctr_set(&ch->ctr->channel_connected, 0);
}

void ctl_chan_set_punt_handler(struct ctl_chan *ch, enum sn_punt_reason reason, ctl_punt_fn fn,
			       void *arg)
{
	if ((unsigned)reason >= SN_PUNT_MAX)
		return;
	ch->punt[reason].fn = fn;
	ch->punt[reason].arg = arg;
}

int ctl_chan_add_table_hooks(struct ctl_chan *ch, const struct ctl_table_hooks *h)
{
	if (ch->n_hooks >= CTL_CHAN_MAX_HOOKS)
		return -ENOSPC;
	ch->hooks[ch->n_hooks++] = *h;
	return 0;
}

/* Entries of a module's own dump (ctl_chan_request_dump) go to its hooks. */
static void hooks_dump_entry(struct ctl_chan *ch, const struct sn_msg_view *v)
{
	const struct sn_msg_table_cmd *e = v->u.table_cmd;

	for (int i = 0; i < ch->n_hooks; i++)
		if (e->table < 32 && (ch->hooks[i].tables & (1u << e->table)) &&
		    ch->hooks[i].dump_entry)
			ch->hooks[i].dump_entry(ch->hooks[i].arg, e->table, v->key, e->key_len,
						v->val, e->val_len);
}

/* Offers an ack or error for a seq the channel did not send to the modules' hooks. */
static bool hooks_ack(struct ctl_chan *ch, uint32_t seq, int32_t result, uint32_t entries)
{
	for (int i = 0; i < ch->n_hooks; i++)
		if (ch->hooks[i].ack && ch->hooks[i].ack(ch->hooks[i].arg, seq, result, entries))
			return true;
	return false;
}

int ctl_chan_request_dump(struct ctl_chan *ch, uint16_t table)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_dump_req) + 7) / 8];
	struct sn_msg_dump_req *req =
	    (struct sn_msg_dump_req *)((uint8_t *)buf + sizeof(struct sn_msg_hdr));
	int rc;

	if (ch->state != CTL_CHAN_READY || ch->module_dump || !table)
		return -EBUSY;
	memset(req, 0, sizeof(*req));
	req->table = table;
	sn_msg_init(buf, SN_MSG_DUMP_REQ, ctl_chan_next_seq(ch), sizeof(*req));
	rc = ctl_chan_send(ch, buf, sizeof(struct sn_msg_hdr) + sizeof(*req));
	if (rc == 0)
		ch->module_dump = table;
	return rc;
}

uint32_t ctl_chan_next_seq(struct ctl_chan *ch)
{
	return ++ch->seq;
}

static void count_err(struct ctl_chan *ch, enum ctl_chan_error e)
{
	ctl_ctr_inc(&ch->ctr->errors[e]);
}

static int socket_tx(struct ctl_chan *ch, const void *msg, size_t len)
{
	ssize_t n;

	do {
		n = send(ch->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int ctl_chan_send(struct ctl_chan *ch, void *msg, size_t len)
{
	int rc;

	if (!ch->session || ch->broken)
		return -ENOTCONN;
	rc = ch->tx ? ch->tx(ch, msg, len) : socket_tx(ch, msg, len);
	if (rc == 0) {
		ctl_ctr_inc(&ch->ctr->tx_msgs);
		return 0;
	}
	if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -ENOBUFS) {
		/* never block the loop: drop and count */
		count_err(ch, CTL_ERR_TX_WOULD_BLOCK);
		return -EAGAIN;
	}
	count_err(ch, CTL_ERR_TX_FAILED);
	SN_WARN("send to dataplane: %s", strerror(-rc));
	ch->broken = true;
	return rc;
}

/* Sends a message with a fixed body. */
static int send_simple(struct ctl_chan *ch, enum sn_msg_type type, const void *body,
		       uint32_t body_len)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + 128) / 8];
	uint32_t len;

	if (body_len > sizeof(buf) - sizeof(struct sn_msg_hdr))
		return -EMSGSIZE;
	len = sn_msg_init(buf, type, ctl_chan_next_seq(ch), body_len);
	if (body_len)
		memcpy((uint8_t *)buf + sizeof(struct sn_msg_hdr), body, body_len);
	return ctl_chan_send(ch, buf, len);
}

static void send_error(struct ctl_chan *ch, uint32_t bad_seq, int error, const char *text)
{
	struct sn_msg_error e;

	memset(&e, 0, sizeof(e));
	e.bad_seq = bad_seq;
	e.error = error;
	snprintf(e.text, sizeof(e.text), "%s", text);
	send_simple(ch, SN_MSG_ERROR, &e, sizeof(e));
}

void ctl_chan_disconnect(struct ctl_chan *ch, uint64_t now, const char *why)
{
	if (ch->session) {
		SN_WARN("channel to dataplane closed: %s; reconnecting every %llu ms", why,
			(unsigned long long)(ch->reconnect_ns / CTL_NS_PER_MS));
		count_err(ch, CTL_ERR_DISCONNECTED);
	}
	if (ch->fd >= 0)
		close(ch->fd); /* also leaves the epoll set */
	ch->fd = -1;
	ch->session = false;
	ch->broken = false;
	ch->state = CTL_CHAN_DISCONNECTED;
	ch->module_dump = 0;
	ch->next_connect_ns = now + ch->reconnect_ns;
	ch->absent_logged = true; /* the line above said it */
	for (int i = 0; i < ch->n_want; i++)
		ch->want[i].state = CTL_WANT_UNKNOWN;
	ctl_ctr_set(&ch->ctr->channel_connected, 0);
}

void ctl_chan_start_session(struct ctl_chan *ch, uint64_t now)
{
	struct sn_msg_hello h;

	ch->session = true;
	ch->broken = false;
	ch->state = CTL_CHAN_HELLO_WAIT;
	ch->connected_ns = now;
	ch->deadline_ns = now + CTL_CHAN_HANDSHAKE_TIMEOUT_NS;
	ch->next_keepalive_ns = now + ch->keepalive_ns;
	ctl_ctr_inc(&ch->ctr->channel_connects);
	ctl_ctr_set(&ch->ctr->channel_connected, 1);

	memset(&h, 0, sizeof(h));
	h.role = SN_ROLE_CONTROL;
	h.pid = (uint32_t)getpid();
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	send_simple(ch, SN_MSG_HELLO, &h, sizeof(h));
}

static void try_connect(struct ctl_chan *ch, uint64_t now)
{
	struct sockaddr_un sa;
	struct epoll_event ev;
	int fd, err;

	ch->next_connect_ns = now + ch->reconnect_ns;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		SN_ERR("socket: %s", strerror(errno));
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, ch->path, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		if (!ch->absent_logged)
			SN_INFO("dataplane not reachable at %s (%s); retrying every %llu ms",
				ch->path, strerror(err),
				(unsigned long long)(ch->reconnect_ns / CTL_NS_PER_MS));
		ch->absent_logged = true;
		goto fail;
	}
	if (ch->epfd >= 0) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = ch->ep_tag;
		if (epoll_ctl(ch->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			SN_ERR("epoll_ctl add channel: %s", strerror(errno));
			goto fail;
		}
	}
	SN_INFO("connected to dataplane channel %s", ch->path);
	ch->absent_logged = false;
	ch->fd = fd;
	ctl_chan_start_session(ch, now);
	return;
fail:
	close(fd);
}

/* Sends TABLE_CMD ADD for one wanted entry. */
static void want_send(struct ctl_chan *ch, struct ctl_dispatch_want *w, uint64_t now)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_table_cmd) + 16) / 8];
	struct sn_dispatch_key key = {.port = htons(w->port), .family = w->family};
	struct sn_dispatch_value val = {.handler = w->handler};
	uint32_t seq = ctl_chan_next_seq(ch);
	int len;

	len = sn_msg_build_table(buf, sizeof(buf), SN_MSG_TABLE_CMD, seq, SN_TABLE_UDP_DISPATCH,
				 w->del ? SN_TABLE_OP_DEL : SN_TABLE_OP_ADD, &key, sizeof(key),
				 w->del ? NULL : &val, w->del ? 0 : sizeof(val));
	if (len < 0 || ctl_chan_send(ch, buf, (size_t)len) < 0) {
		w->state = CTL_WANT_UNKNOWN; /* the next tick tries again */
		return;
	}
	SN_INFO("dispatch udp port %u %s -> %s: sent (seq %u)", w->port, family_name(w->family),
		w->del ? "(remove)" : ctl_udp_handler_name(w->handler), seq);
	w->state = CTL_WANT_PENDING;
	w->seq = seq;
	w->sent_ns = now;
}

/* True when control's view of the dataplane already has the entry as wanted. */
static bool want_present(const struct ctl_chan *ch, const struct ctl_dispatch_want *w)
{
	unsigned slot = ctl_chan_dispatch_slot(ch, w->family, w->port);

	/* no entry means drop too (the dataplane leaves drop entries out of its dump) */
	if (w->del)
		return slot == 0;
	return slot == (unsigned)w->handler + 1u ||
	       (slot == 0 && w->handler == SN_UDP_HANDLER_DROP);
}

/* Forgets removals that are done. */
static void want_prune(struct ctl_chan *ch)
{
	int j = 0;

	for (int i = 0; i < ch->n_want; i++)
		if (!(ch->want[i].del && ch->want[i].state == CTL_WANT_OK))
			ch->want[j++] = ch->want[i];
	ch->n_want = j;
}

/* Compares every wanted entry with the view and installs what differs. */
static void reconcile(struct ctl_chan *ch, uint64_t now)
{
	int present = 0, sent = 0;

	for (int i = 0; i < ch->n_want && ch->session && !ch->broken; i++) {
		struct ctl_dispatch_want *w = &ch->want[i];

		if (want_present(ch, w)) {
			w->state = CTL_WANT_OK;
			present++;
			continue;
		}
		want_send(ch, w, now);
		sent++;
	}
	want_prune(ch);
	SN_INFO("%d wanted dispatch entries already present, %d (re)installed", present, sent);
}

static struct ctl_dispatch_want *want_find(struct ctl_dispatch_want *list, int n, uint8_t family,
					   uint16_t port)
{
	for (int i = 0; i < n; i++)
		if (list[i].family == family && list[i].port == port)
			return &list[i];
	return NULL;
}

void ctl_chan_set_dispatch(struct ctl_chan *ch, const struct sn_dispatch_config *d, int n,
			   uint64_t now)
{
	struct ctl_dispatch_want next[CTL_CHAN_MAX_WANT];
	bool force[CTL_CHAN_MAX_WANT] = {false}; /* replaces a command still in flight */
	int nn = 0, lost = 0;

	/* the new list; entries wanted the same way as before keep their state */
	for (int i = 0; i < n && i < SN_CONFIG_MAX_DISPATCH; i++) {
		if (d[i].handler >= SN_UDP_HANDLER_MAX)
			continue;
		for (int f = 0; f < 2; f++) {
			uint8_t fam = f == 0 ? AF_INET : AF_INET6;
			struct ctl_dispatch_want *o =
			    want_find(ch->want, ch->n_want, fam, d[i].port);
			struct ctl_dispatch_want *w = &next[nn++];

			if (o && !o->del && o->handler == d[i].handler) {
				*w = *o;
				continue;
			}
			/* the view cannot be trusted while another command for it is in flight */
			force[nn - 1] = o && o->state == CTL_WANT_PENDING;
			memset(w, 0, sizeof(*w));
			w->port = d[i].port;
			w->handler = d[i].handler;
			w->family = fam;
		}
	}
	/* removals: what was wanted (or still being removed) and no longer is */
	for (int i = 0; i < ch->n_want; i++) {
		const struct ctl_dispatch_want *o = &ch->want[i];
		struct ctl_dispatch_want *w;

		if (want_find(next, nn, o->family, o->port))
			continue;
		if (nn == CTL_CHAN_MAX_WANT) {
			lost++;
			continue;
		}
		w = &next[nn++];
		*w = *o;
		if (!o->del) {
			force[nn - 1] = o->state == CTL_WANT_PENDING;
			w->del = 1;
			w->state = CTL_WANT_UNKNOWN;
		}
	}
	if (lost)
		SN_WARN("%d dispatch removals do not fit (dataplane not answering?); they stay in "
			"the dataplane",
			lost);
	memcpy(ch->want, next, (size_t)nn * sizeof(next[0]));
	ch->n_want = nn;
	if (ch->state != CTL_CHAN_READY)
		return; /* the next resync reconciles */
	for (int i = 0; i < ch->n_want && ch->session && !ch->broken; i++) {
		struct ctl_dispatch_want *w = &ch->want[i];

		if (w->state != CTL_WANT_UNKNOWN && w->state != CTL_WANT_FAILED)
			continue; /* OK, or PENDING: its ack comes */
		if (!force[i] && want_present(ch, w))
			w->state = CTL_WANT_OK;
		else
			want_send(ch, w, now);
	}
	want_prune(ch);
}

static void log_bad(struct ctl_chan *ch, uint64_t now, const char *what, int err)
{
	uint64_t skipped = 0;

	if (!ctl_ratelimit_ok(&ch->rl, now, &skipped))
		return;
	if (skipped)
		SN_WARN("%s: %s (%llu similar lines suppressed)", what, strerror(-err),
			(unsigned long long)skipped);
	else
		SN_WARN("%s: %s", what, strerror(-err));
}

static void on_hello(struct ctl_chan *ch, const struct sn_msg_view *v, uint64_t now)
{
	const struct sn_msg_hello *h = v->u.hello;
	struct sn_msg_dump_req req = {.table = 0};

	if (ch->state != CTL_CHAN_HELLO_WAIT || h->role != SN_ROLE_DATAPLANE) {
		count_err(ch, CTL_ERR_UNEXPECTED);
		log_bad(ch, now, "HELLO out of place or not from a dataplane", -EPROTO);
		return;
	}
	if (ch->have_hello && ch->dp_epoch != h->epoch)
		SN_INFO("dataplane restarted (epoch %llu -> %llu)",
			(unsigned long long)ch->dp_epoch, (unsigned long long)h->epoch);
	ch->have_hello = true;
	ch->dp_pid = h->pid;
	ch->dp_epoch = h->epoch;
	ch->dp_workers = h->n_workers;
	ch->dp_ports = h->n_ports;
	ch->dp_tables = h->n_tables;
	memcpy(ch->dp_build, h->build, sizeof(ch->dp_build)); /* NUL inside: sn_msg_parse */
	if (strcmp(ch->dp_build, SN_VERSION) != 0)
		SN_WARN("dataplane build %s differs from control build %s (protocol %u on both)",
			ch->dp_build, SN_VERSION, SN_CHANNEL_VERSION);
	SN_INFO("dataplane pid %u build %s: %u workers, %u ports, %u tables; resyncing", h->pid,
		ch->dp_build, h->n_workers, h->n_ports, h->n_tables);

	dispatch_clear(ch);
	ch->dump_seen = 0;
	ch->module_dump = 0;
	ch->state = CTL_CHAN_RESYNC;
	ch->deadline_ns = now + CTL_CHAN_HANDSHAKE_TIMEOUT_NS;
	send_simple(ch, SN_MSG_DUMP_REQ, &req, sizeof(req));
}

static void on_dump_entry(struct ctl_chan *ch, const struct sn_msg_view *v, uint64_t now)
{
	const struct sn_msg_table_cmd *e = v->u.table_cmd;
	struct sn_dispatch_key key;
	struct sn_dispatch_value val;

	if (ch->state == CTL_CHAN_READY && ch->module_dump && e->table == ch->module_dump) {
		hooks_dump_entry(ch, v);
		return;
	}
	if (ch->state != CTL_CHAN_RESYNC) {
		count_err(ch, CTL_ERR_UNEXPECTED);
		log_bad(ch, now, "DUMP_ENTRY outside a resync", -EPROTO);
		return;
	}
	ch->dump_seen++;
	ch->deadline_ns = now + CTL_CHAN_HANDSHAKE_TIMEOUT_NS; /* progress */
	if (e->table != SN_TABLE_UDP_DISPATCH) {
		for (int i = 0; i < ch->n_hooks; i++)
			if (e->table < 32 && (ch->hooks[i].tables & (1u << e->table)) &&
			    ch->hooks[i].dump_entry)
				ch->hooks[i].dump_entry(ch->hooks[i].arg, e->table, v->key,
							e->key_len, v->val, e->val_len);
		return; /* tables no module tracks are ignored */
	}
	if (e->key_len != sizeof(key) || e->val_len != sizeof(val)) {
		count_err(ch, CTL_ERR_BAD_ENTRY);
		log_bad(ch, now, "dispatch DUMP_ENTRY with wrong key/value size", -EBADMSG);
		return;
	}
	memcpy(&key, v->key, sizeof(key));
	memcpy(&val, v->val, sizeof(val));
	if (family_index(key.family) < 0 || val.handler >= SN_UDP_HANDLER_MAX) {
		count_err(ch, CTL_ERR_BAD_ENTRY);
		log_bad(ch, now, "dispatch DUMP_ENTRY with bad family or handler", -EBADMSG);
		return;
	}
	dispatch_store(ch, key.family, ntohs(key.port), val.handler + 1u);
}

static void on_dump_end(struct ctl_chan *ch, const struct sn_msg_view *v, uint64_t now)
{
	if (ch->state == CTL_CHAN_READY && ch->module_dump &&
	    v->u.dump_end->table == ch->module_dump) {
		ch->module_dump = 0;
		return;
	}
	if (ch->state != CTL_CHAN_RESYNC) {
		count_err(ch, CTL_ERR_UNEXPECTED);
		log_bad(ch, now, "DUMP_END outside a resync", -EPROTO);
		return;
	}
	if (v->u.dump_end->entries != ch->dump_seen) {
		count_err(ch, CTL_ERR_BAD_ENTRY);
		SN_WARN("dump: dataplane says %u entries, %u received", v->u.dump_end->entries,
			ch->dump_seen);
	}
	ch->last_dump_entries = ch->dump_seen;
	ch->last_resync_ns = now;
	ctl_ctr_set(&ch->ctr->dump_entries, ch->dump_seen);
	ctl_ctr_inc(&ch->ctr->resyncs);
	ch->state = CTL_CHAN_READY;
	SN_INFO("resync done: %u entries (%u udp dispatch)", ch->dump_seen, ch->dispatch_entries);
	reconcile(ch, now);
	for (int i = 0; i < ch->n_hooks && ch->session && !ch->broken; i++)
		if (ch->hooks[i].ready)
			ch->hooks[i].ready(ch->hooks[i].arg, now);
}

static struct ctl_dispatch_want *want_by_seq(struct ctl_chan *ch, uint32_t seq)
{
	for (int i = 0; i < ch->n_want; i++)
		if (ch->want[i].state == CTL_WANT_PENDING && ch->want[i].seq == seq)
			return &ch->want[i];
	return NULL;
}

static void on_table_ack(struct ctl_chan *ch, const struct sn_msg_view *v, uint64_t now)
{
	const struct sn_msg_table_ack *a = v->u.table_ack;
	struct ctl_dispatch_want *w = want_by_seq(ch, a->cmd_seq);

	if (!w && hooks_ack(ch, a->cmd_seq, a->result, a->entries))
		return; /* a module's table command */
	if (!w) {
		/* e.g. a late ack of a command that timed out and was resent */
		count_err(ch, CTL_ERR_UNEXPECTED);
		SN_DEBUG("TABLE_ACK for unknown seq %u", a->cmd_seq);
		return;
	}
	if (a->result != 0) {
		count_err(ch, CTL_ERR_TABLE_NACK);
		SN_WARN("dispatch udp port %u %s -> %s refused by the dataplane: %s", w->port,
			family_name(w->family), ctl_udp_handler_name(w->handler),
			a->result < 0 && a->result > -4096 ? strerror(-a->result) : "bad result");
		w->state = CTL_WANT_FAILED;
		return;
	}
	w->state = CTL_WANT_OK;
	if (w->del) {
		dispatch_store(ch, w->family, w->port, 0);
		SN_INFO("dispatch udp port %u %s: removed (%u entries in the dataplane)", w->port,
			family_name(w->family), a->entries);
		want_prune(ch); /* w is gone after this */
		return;
	}
	dispatch_store(ch, w->family, w->port, w->handler + 1u);
	SN_INFO("dispatch udp port %u %s -> %s: installed (%u entries in the dataplane)", w->port,
		family_name(w->family), ctl_udp_handler_name(w->handler), a->entries);
}

static void on_error(struct ctl_chan *ch, const struct sn_msg_view *v, uint64_t now)
{
	const struct sn_msg_error *e = v->u.error;
	struct ctl_dispatch_want *w = want_by_seq(ch, e->bad_seq);
	uint64_t skipped = 0;

	count_err(ch, CTL_ERR_REMOTE_ERROR);
	if (ctl_ratelimit_ok(&ch->rl, now, &skipped))
		SN_WARN("dataplane refused message seq %u: %d (%s)", e->bad_seq, e->error,
			e->text); /* text NUL-terminated: sn_msg_parse */
	if (w)
		w->state = CTL_WANT_FAILED;
	else
		hooks_ack(ch, e->bad_seq, e->error, 0);
	if (ch->state == CTL_CHAN_HELLO_WAIT)
		ctl_chan_disconnect(ch, now, "dataplane refused our HELLO");
}

static void on_punt(struct ctl_chan *ch, const struct sn_msg_view *v)
{
	unsigned reason = v->u.punt->reason; /* < SN_PUNT_MAX: sn_msg_parse */

	ctl_ctr_inc(&ch->ctr->punts[reason]);
	if (!ch->punt[reason].fn) {
		ctl_ctr_inc(&ch->ctr->punts_unhandled[reason]);
		return;
	}
	ch->punt[reason].fn(ch, v, ch->punt[reason].arg);
}

int ctl_chan_handle(struct ctl_chan *ch, const void *buf, size_t len, uint64_t now)
{
	struct sn_msg_view v;
	int rc;

	ctl_ctr_inc(&ch->ctr->rx_msgs);
	rc = sn_msg_parse(buf, len, &v);
	if (rc < 0) {
		uint32_t seq = 0;

		if (len >= sizeof(struct sn_msg_hdr))
			memcpy(&seq, (const uint8_t *)buf + offsetof(struct sn_msg_hdr, seq),
			       sizeof(seq));
		count_err(ch, rc == -EPROTO ? CTL_ERR_VERSION : CTL_ERR_MALFORMED);
		log_bad(ch, now,
			rc == -EPROTO ? "message of another protocol version"
				      : "malformed message from dataplane",
			rc);
		send_error(ch, seq, rc, rc == -EPROTO ? "protocol version" : "malformed message");
		if (rc == -EPROTO)
			ctl_chan_disconnect(ch, now, "protocol version mismatch");
		return rc;
	}
	switch (v.hdr->type) {
	case SN_MSG_HELLO:
		on_hello(ch, &v, now);
		break;
	case SN_MSG_DUMP_ENTRY:
		on_dump_entry(ch, &v, now);
		break;
	case SN_MSG_DUMP_END:
		on_dump_end(ch, &v, now);
		break;
	case SN_MSG_TABLE_ACK:
		on_table_ack(ch, &v, now);
		break;
	case SN_MSG_ERROR:
		on_error(ch, &v, now);
		break;
	case SN_MSG_PUNT:
		on_punt(ch, &v);
		break;
	case SN_MSG_KEEPALIVE:
		break;
	case SN_MSG_GUARD_REPORT:
		if (ch->guard_report)
			ch->guard_report(v.u.guard_report, now);
		break;
	default: /* TABLE_CMD, DUMP_REQ, INJECT go the other way */
		count_err(ch, CTL_ERR_UNEXPECTED);
		log_bad(ch, now, "message type only control sends", -EPROTO);
		break;
	}
	return 0;
}

void ctl_chan_on_event(struct ctl_chan *ch, uint32_t events, uint64_t now)
{
	for (int i = 0; i < CTL_CHAN_RX_BATCH && ch->fd >= 0 && !ch->broken; i++) {
		ssize_t n = recv(ch->fd, ch->rx, sizeof(ch->rx), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != ECONNRESET)
				count_err(ch, CTL_ERR_RX_FAILED);
			ctl_chan_disconnect(ch, now, strerror(errno));
			return;
		}
		if (n == 0) {
			ctl_chan_disconnect(ch, now, "dataplane closed it");
			return;
		}
		if ((size_t)n > sizeof(ch->rx)) {
			/* MSG_TRUNC: n is the real size; the message is cut, so refuse it */
			ctl_ctr_inc(&ch->ctr->rx_msgs);
			count_err(ch, CTL_ERR_MALFORMED);
			log_bad(ch, now, "oversized message from dataplane", -EMSGSIZE);
			continue;
		}
		ctl_chan_handle(ch, ch->rx, (size_t)n, now);
	}
	if (ch->broken)
		ctl_chan_disconnect(ch, now, "send failed");
	else if (ch->fd >= 0 && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		ctl_chan_disconnect(ch, now, "socket hung up");
}

void ctl_chan_tick(struct ctl_chan *ch, uint64_t now)
{
	if (ch->broken) {
		ctl_chan_disconnect(ch, now, "send failed");
		return;
	}
	if (!ch->session) {
		if (!ch->tx && now >= ch->next_connect_ns)
			try_connect(ch, now);
		return;
	}
	if ((ch->state == CTL_CHAN_HELLO_WAIT || ch->state == CTL_CHAN_RESYNC) &&
	    now >= ch->deadline_ns) {
		count_err(ch, CTL_ERR_HANDSHAKE_TIMEOUT);
		ctl_chan_disconnect(ch, now,
				    ch->state == CTL_CHAN_HELLO_WAIT ? "no HELLO from dataplane"
								     : "dump stalled");
		return;
	}
	if (now >= ch->next_keepalive_ns) {
		ch->next_keepalive_ns = now + ch->keepalive_ns;
		send_simple(ch, SN_MSG_KEEPALIVE, NULL, 0);
	}
	if (ch->state == CTL_CHAN_READY) {
		for (int i = 0; i < ch->n_want && !ch->broken; i++) {
			struct ctl_dispatch_want *w = &ch->want[i];

			if (w->state == CTL_WANT_PENDING &&
			    now - w->sent_ns >= CTL_CHAN_ACK_TIMEOUT_NS) {
				count_err(ch, CTL_ERR_ACK_TIMEOUT);
				SN_WARN(
				    "dispatch udp port %u %s: no TABLE_ACK for seq %u, resending",
				    w->port, family_name(w->family), w->seq);
				want_send(ch, w, now);
			} else if (w->state == CTL_WANT_UNKNOWN) {
				want_send(ch, w, now);
			}
		}
	}
	if (ch->broken)
		ctl_chan_disconnect(ch, now, "send failed");
}
