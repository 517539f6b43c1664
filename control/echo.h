/* echo.h: the diagnostic echo service. A datagram punted with reason SN_PUNT_ECHO is sent
 * back to its sender unchanged: an INJECT with the tuple's addresses and ports swapped, on
 * the port it came in on. Lets an operator check the punt/inject path end to end
 * (`echo hi | nc -u <appliance> <echo port>`). */
#ifndef CTL_ECHO_H
#define CTL_ECHO_H

#include "chan.h"

/* ctl_punt_fn for SN_PUNT_ECHO; arg unused. Counts echo_replies on success. */
int ctl_echo_handle(struct ctl_chan *ch, const struct sn_msg_view *v, void *arg);

#endif
