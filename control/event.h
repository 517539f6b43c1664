/* event.h: what an epoll event of supernode-control's loop points to. Every object in the
 * epoll set starts with (or holds) a struct ctl_ev; epoll_event.data.ptr points to it. */
#ifndef CTL_EVENT_H
#define CTL_EVENT_H

enum ctl_ev_kind {
	CTL_EV_SIGNAL = 1,   /* signalfd */
	CTL_EV_TIMER,	     /* timerfd tick */
	CTL_EV_CHAN,	     /* channel socket */
	CTL_EV_ADMIN_LISTEN, /* admin socket: accept */
	CTL_EV_ADMIN_CONN,   /* one admin connection; obj is struct ctl_admin_conn */
};

struct ctl_ev {
	enum ctl_ev_kind kind;
	void *obj;
};

#endif
