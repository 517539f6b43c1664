/* Config loader: the shipped configs load with the values they say, every validation error
 * names the right line and field, bad files fail cleanly, and docs/config.md is what
 * sn_config_print_doc() prints. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sn_channel.h"
#include "sn_config.h"
#include "sn_log.h"

/* Under ASan, tests ask LeakSanitizer directly: a leak report at process exit would not
 * fail a Criterion test. */
#if defined(__SANITIZE_ADDRESS__)
#define SN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SN_TEST_ASAN 1
#endif
#endif
#ifdef SN_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#ifndef SN_SOURCE_ROOT
#error "SN_SOURCE_ROOT must name the source tree (set by common/meson.build)"
#endif

static struct sn_config cfg;
static char err[512];

static void teardown(void)
{
	sn_config_free(&cfg);
}

TestSuite(config, .fini = teardown);

static void expect_no_leaks(void)
{
#ifdef SN_TEST_ASAN
	cr_expect_eq(__lsan_do_recoverable_leak_check(), 0,
		     "leaked (see the LeakSanitizer report)");
#endif
}

static int load_text(const char *text)
{
	return sn_config_load_buffer("t.yaml", text, strlen(text), &cfg, err, sizeof(err));
}

static bool all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static void expect_ipv4(struct in_addr a, const char *text)
{
	char buf[INET_ADDRSTRLEN];

	cr_assert_not_null(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
	cr_expect_str_eq(buf, text);
}

static void expect_ipv6(const struct in6_addr *a, const char *text)
{
	char buf[INET6_ADDRSTRLEN];

	cr_assert_not_null(inet_ntop(AF_INET6, a, buf, sizeof(buf)));
	cr_expect_str_eq(buf, text);
}

Test(config, lab_yaml)
{
	const char *path = SN_SOURCE_ROOT "/configs/lab.yaml";
	static const char *const eal[] = {
	    "--no-huge", "-m", "512", "--file-prefix=snlab", "--no-pci", "--log-level=*:notice"};
	const struct sn_dataplane_config *dp = &cfg.dataplane;

	cr_assert_eq(sn_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(cfg.path, path);
	cr_expect_str_eq(cfg.runtime_dir, "/run/supernode");
	cr_expect_eq(cfg.log_level, SN_LOG_INFO);
	cr_expect(cfg.lab_mode);

	cr_assert_eq(dp->n_eal_args, 6);
	for (int i = 0; i < 6; i++)
		cr_expect_str_eq(dp->eal_args[i], eal[i]);
	cr_expect_eq(dp->main_lcore, 0);
	cr_assert_eq(dp->n_workers, 1);
	cr_expect_eq(dp->worker_lcores[0], 1);
	cr_expect_eq(dp->mbufs, 8191);
	cr_expect_eq(dp->mbuf_cache, 256);
	cr_expect_eq(dp->burst, 32);
	cr_expect_eq(dp->idle_empty_polls, 256);
	cr_expect_eq(dp->idle_sleep_us, 200);
	cr_expect_eq(dp->punt_ring_size, 4096);
	cr_expect_eq(dp->punt_rate_pps, 10000);
	cr_expect_eq(dp->punt_burst, 1000);
	cr_expect_eq(dp->punt_source_rate_pps, 2000);
	cr_expect_eq(dp->punt_source_burst, 200);
	cr_expect_eq(dp->neigh_entries, 1024);

	cr_assert_eq(dp->n_ports, 1);
	const struct sn_port_config *p = &dp->ports[0];
	cr_expect_str_eq(p->name, "sn0");
	cr_expect_str_eq(p->device, "net_tap0,iface=sn0");
	cr_expect_not(p->device_is_pci);
	cr_assert(p->has_ipv4);
	expect_ipv4(p->ipv4, "198.18.0.1");
	cr_expect_eq(p->ipv4_prefix, 24);
	cr_assert(p->has_ipv6);
	expect_ipv6(&p->ipv6, "2001:db8:5e::1");
	cr_expect_eq(p->ipv6_prefix, 64);
	cr_expect_not(p->has_gateway4);
	cr_expect_not(p->has_gateway6);
	cr_expect_eq(p->mtu, 1500);
	cr_expect_eq(p->rx_desc, 1024);
	cr_expect_eq(p->tx_desc, 1024);

	cr_assert_eq(dp->n_dispatch, 3);
	cr_expect_eq(dp->dispatch[0].port, 7);
	cr_expect_eq(dp->dispatch[0].handler, SN_UDP_HANDLER_ECHO);
	cr_expect_eq(dp->dispatch[1].port, 3478);
	cr_expect_eq(dp->dispatch[1].handler, SN_UDP_HANDLER_TURN);
	cr_expect_eq(dp->dispatch[2].port, 4222);
	cr_expect_eq(dp->dispatch[2].handler, SN_UDP_HANDLER_DHT);
	cr_expect_eq(cfg.turn.relay_port_min, 49152);
	cr_expect(cfg.turn.rfc5766_channels);
	cr_expect_str_eq(cfg.turn.realm, "supernode.lab");
	cr_assert_eq(cfg.turn.n_users, 2);
	cr_expect_str_eq(cfg.turn.users[0].name, "lab");
	cr_expect_str_eq(cfg.turn.users[0].password, "lab-password");
	cr_expect_eq(cfg.turn.users[0].quota, 0);
	cr_expect_str_eq(cfg.turn.users[1].name, "quota");
	cr_expect_eq(cfg.turn.users[1].quota, 2);
	cr_expect_str_eq(cfg.turn.rest_secret, "lab-secret");
	cr_expect_eq(cfg.turn.nonce_lifetime, 600);
	cr_expect_eq(cfg.turn.default_lifetime, 600);
	cr_expect_eq(cfg.turn.max_lifetime, 3600);
	cr_expect_eq(cfg.turn.user_quota, 512);
	cr_assert_eq(cfg.turn.n_allowed_peers, 2);
	cr_expect_eq(cfg.turn.allowed_peers[0].family, AF_INET);
	cr_expect_eq(cfg.turn.allowed_peers[0].len, 32);
	struct in_addr peer4;
	memcpy(&peer4, cfg.turn.allowed_peers[0].addr, sizeof(peer4)); /* addr is a byte array */
	expect_ipv4(peer4, "198.18.0.2");
	cr_expect_eq(cfg.turn.allowed_peers[1].family, AF_INET6);
	cr_expect_eq(cfg.turn.allowed_peers[1].len, 128);
	struct in6_addr peer6;
	memcpy(&peer6, cfg.turn.allowed_peers[1].addr, sizeof(peer6));
	expect_ipv6(&peer6, "2001:db8:5e::2");
	cr_expect_eq(cfg.turn.n_denied_peers, 0);
	cr_expect_str_eq(cfg.turn.software, "");
	cr_expect_eq(cfg.dht.network_id, 94);

	cr_expect_str_eq(cfg.control.metrics_listen, "127.0.0.1");
	cr_expect_eq(cfg.control.metrics_port, 9641);
	cr_expect_eq(cfg.control.reconnect_ms, 200);
	cr_expect_eq(cfg.control.keepalive_ms, 1000);
	expect_no_leaks();
}

Test(config, production_example)
{
	const char *path = SN_SOURCE_ROOT "/configs/production.example.yaml";
	const struct sn_dataplane_config *dp = &cfg.dataplane;

	cr_assert_eq(sn_config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_not(cfg.lab_mode);
	cr_assert_eq(dp->n_workers, 4);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(dp->worker_lcores[i], (unsigned)i + 2);
	cr_expect_eq(dp->idle_empty_polls, 0);
	cr_assert_geq(dp->n_ports, 1);
	cr_expect_str_eq(dp->ports[0].device, "0000:3b:00.0");
	cr_expect(dp->ports[0].device_is_pci);
	cr_expect(dp->ports[0].has_gateway4);
	cr_expect(dp->ports[0].has_gateway6);
	for (int i = 0; i < dp->n_eal_args; i++)
		cr_expect_null(strstr(dp->eal_args[i], "--no-huge"));
	expect_no_leaks();
}

/* The smallest valid file: everything else takes its default. */
#define MINIMAL                                                                                    \
	"dataplane:\n"                                                                             \
	"  workers: [1]\n"                                                                         \
	"  ports:\n"                                                                               \
	"    - name: p0\n"                                                                         \
	"      device: net_null0\n"                                                                \
	"      ipv4: 192.0.2.1/24\n"

Test(config, defaults)
{
	cr_assert_eq(load_text(MINIMAL), 0, "%s", err);
	cr_expect_str_eq(cfg.path, "t.yaml");
	cr_expect_str_eq(cfg.runtime_dir, "/run/supernode");
	cr_expect_eq(cfg.log_level, SN_LOG_INFO);
	cr_expect_not(cfg.lab_mode);
	cr_expect_eq(cfg.dataplane.n_eal_args, 0);
	cr_expect_eq(cfg.dataplane.main_lcore, 0);
	cr_expect_eq(cfg.dataplane.mbufs, 8191);
	cr_expect_eq(cfg.dataplane.punt_ring_size, 4096);
	cr_expect_eq(cfg.dataplane.ports[0].mtu, 1500);
	cr_expect_eq(cfg.dataplane.ports[0].rx_desc, 1024);
	cr_expect_not(cfg.dataplane.ports[0].has_ipv6);
	cr_expect_eq(cfg.dataplane.n_dispatch, 0);
	cr_expect_str_eq(cfg.control.metrics_listen, "127.0.0.1");
	cr_expect_eq(cfg.control.metrics_port, 9641);
	cr_expect_eq(cfg.control.keepalive_ms, 1000);
}

Test(config, flow_style_and_handlers)
{
	const char *text = "log_level: debug\n"
			   "dataplane: {workers: [2, 3], main_lcore: 1, ports: [{name: a, device: "
			   "'0000:3b:00.1', ipv6: 'fe80::1/64', gateway6: 'fe80::2'}],\n"
			   "  dispatch: [{port: 1, handler: drop}, {port: 2, handler: punt},\n"
			   "    {port: 3, handler: echo}, {port: 3478, handler: turn},\n"
			   "    {port: 4222, handler: dht}]}\n"
			   "control: {metrics: {listen: '::1', port: 1}}\n";

	cr_assert_eq(load_text(text), 0, "%s", err);
	cr_expect_eq(cfg.log_level, SN_LOG_DEBUG);
	cr_expect_eq(cfg.dataplane.n_workers, 2);
	cr_expect(cfg.dataplane.ports[0].device_is_pci);
	cr_expect_eq(cfg.dataplane.n_dispatch, 5);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(cfg.dataplane.dispatch[i].handler, i);
	cr_expect_eq(cfg.dataplane.dispatch[4].port, 4222);
	cr_expect_str_eq(cfg.control.metrics_listen, "::1");
	expect_no_leaks();
}

struct bad_case {
	const char *text;
	const char *prefix; /* expected start of the message: "t.yaml:LINE: path: cause" */
};

static const struct bad_case bad_cases[] = {
    /* unknown keys, at every level */
    {"foo: 1\n", "t.yaml:1: foo: unknown key"},
    {MINIMAL "      speed: 10\n", "t.yaml:7: dataplane.ports[0].speed: unknown key"},
    {"control:\n  metrics:\n    host: x\n", "t.yaml:3: control.metrics.host: unknown key"},
    /* wrong types */
    {"lab_mode: yes\n", "t.yaml:1: lab_mode: expected true or false"},
    {"lab_mode: [true]\n", "t.yaml:1: lab_mode: expected true or false, got a list"},
    {"dataplane:\n  mbufs: lots\n", "t.yaml:2: dataplane.mbufs: expected an integer"},
    {"dataplane:\n  mbufs: -5\n", "t.yaml:2: dataplane.mbufs: expected an integer"},
    {"dataplane:\n  mbufs: \"9000\"\n",
     "t.yaml:2: dataplane.mbufs: expected an integer, got a quoted string"},
    {"dataplane:\n  mbufs:\n", "t.yaml:2: dataplane.mbufs: expected an integer, got nothing"},
    {"dataplane: 3\n", "t.yaml:1: dataplane: expected a mapping, got a scalar"},
    {"dataplane:\n  ports: {name: a}\n",
     "t.yaml:2: dataplane.ports: expected a list, got a mapping"},
    {"dataplane:\n  ports:\n    - p0\n",
     "t.yaml:3: dataplane.ports[0]: expected a mapping, got a scalar"},
    {"dataplane:\n  eal_args: [[a]]\n",
     "t.yaml:2: dataplane.eal_args[0]: expected a string, got a list"},
    {"log_level: loud\n", "t.yaml:1: log_level: expected one of error, warn, info, debug"},
    {"control:\n  metrics:\n    listen: localhost\n",
     "t.yaml:3: control.metrics.listen: not an IPv4 or IPv6 address"},
    {"- a\n", "t.yaml:1: (root): expected a mapping, got a list"},
    {"[a]: 1\n", "t.yaml:1: (root): keys must be plain names"},
    /* ranges */
    {"dataplane:\n  mbufs: 100\n", "t.yaml:2: dataplane.mbufs: 100 is out of range 512..16777215"},
    {"dataplane:\n  burst: 70000\n", "t.yaml:2: dataplane.burst: 70000 is out of range 1..512"},
    {"dataplane:\n  mbufs: 99999999999999999999\n",
     "t.yaml:2: dataplane.mbufs: 99999999999999999999 is out of range"},
    {"dataplane:\n  main_lcore: 128\n", "t.yaml:2: dataplane.main_lcore: 128 is out of range"},
    {"dataplane:\n  workers: [1, 200]\n",
     "t.yaml:2: dataplane.workers[1]: 200 is out of range 0..127"},
    {"control:\n  metrics:\n    port: 0\n", "t.yaml:3: control.metrics.port: 0 is out of range"},
    {"dataplane:\n  punt:\n    ring_size: 1000\n",
     "t.yaml:3: dataplane.punt.ring_size: 1000 is not a power of two"},
    {"runtime_dir: run/sn\n", "t.yaml:1: runtime_dir: not an absolute path"},
    {"runtime_dir: \"\"\n", "t.yaml:1: runtime_dir: length 0 is out of range 1..80"},
    {"runtime_dir: "
     "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     "t.yaml:1: runtime_dir: length 82 is out of range 1..80"},
    {"runtime_dir: \"/a\\0b\"\n", "t.yaml:1: runtime_dir: NUL character in value"},
    /* addresses and prefixes */
    {MINIMAL "      ipv6: 2001:db8::1\n", "t.yaml:7: dataplane.ports[0].ipv6: not an IPv6 prefix"},
    {"dataplane:\n  ports:\n    - {name: a, device: net_null0, ipv4: 198.18.0.256/24}\n",
     "t.yaml:3: dataplane.ports[0].ipv4: not an IPv4 prefix"},
    {"dataplane:\n  ports:\n    - {name: a, device: net_null0, ipv4: 198.18.0.1/33}\n",
     "t.yaml:3: dataplane.ports[0].ipv4: prefix length 33 is out of range 1..32"},
    {"dataplane:\n  ports:\n    - {name: a, device: net_null0, ipv4: 198.18.0.1/0024}\n",
     "t.yaml:3: dataplane.ports[0].ipv4: not an IPv4 prefix"},
    {"dataplane:\n  ports:\n    - {name: a, device: net_null0, ipv4: 224.0.0.1/24}\n",
     "t.yaml:3: dataplane.ports[0].ipv4: not a unicast host address"},
    {"dataplane:\n  ports:\n    - {name: a, device: net_null0, ipv6: \"::1/128\"}\n",
     "t.yaml:3: dataplane.ports[0].ipv6: not a unicast host address"},
    {MINIMAL "      gateway4: 192.0.3.1\n",
     "t.yaml:7: dataplane.ports[0].gateway4: not inside the ipv4 prefix (/24)"},
    {MINIMAL "      gateway6: fe80::1\n",
     "t.yaml:7: dataplane.ports[0].gateway6: needs ipv6 on the same port"},
    {MINIMAL "      gateway4: 192.0.2.1\n",
     "t.yaml:7: dataplane.ports[0].gateway4: same address as ipv4"},
    {MINIMAL "      ipv6: 2001:db8::1/64\n      gateway6: 2001:db9::1\n",
     "t.yaml:8: dataplane.ports[0].gateway6: not inside the ipv6 prefix"},
    {MINIMAL "      ipv6: 2001:db8::1/64\n      mtu: 1000\n",
     "t.yaml:8: dataplane.ports[0].mtu: 1000 is below 1280"},
    /* ports */
    {"dataplane:\n  workers: [1]\n  ports:\n    - {name: a, device: net_null0}\n",
     "t.yaml:4: dataplane.ports[0]: needs ipv4, ipv6 or both"},
    {"dataplane:\n  workers: [1]\n  ports:\n    - {device: net_null0, ipv4: 192.0.2.1/24}\n",
     "t.yaml:4: dataplane.ports[0].name: required"},
    {"dataplane:\n  ports:\n    - {name: \"a b\", device: net_null0}\n",
     "t.yaml:3: dataplane.ports[0].name: only letters, digits"},
    {"dataplane:\n  ports:\n    - {name: a, device: eth0}\n",
     "t.yaml:3: dataplane.ports[0].device: not a PCI address"},
    {"dataplane:\n  ports:\n    - {name: a, device: \"0000:3b:00.8\"}\n",
     "t.yaml:3: dataplane.ports[0].device: not a PCI address"},
    {MINIMAL "    - name: p0\n      device: net_null1\n      ipv4: 192.0.2.2/24\n",
     "t.yaml:7: dataplane.ports[1].name: \"p0\" is also the name of ports[0]"},
    {MINIMAL "    - name: p1\n      device: net_null0\n      ipv4: 192.0.2.2/24\n",
     "t.yaml:8: dataplane.ports[1].device: also the device of ports[0]"},
    {"dataplane:\n  workers: [1]\n  ports: []\n",
     "t.yaml:3: dataplane.ports: needs at least 1 entry"},
    {"dataplane:\n  workers: [1]\n", "t.yaml:1: dataplane.ports: required"},
    {"dataplane:\n  ports:\n"
     "    - {name: a0, device: net_null0}\n    - {name: a1, device: net_null1}\n"
     "    - {name: a2, device: net_null2}\n    - {name: a3, device: net_null3}\n"
     "    - {name: a4, device: net_null4}\n    - {name: a5, device: net_null5}\n"
     "    - {name: a6, device: net_null6}\n    - {name: a7, device: net_null7}\n"
     "    - {name: a8, device: net_null8}\n",
     "t.yaml:11: dataplane.ports[8]: more than 8 entries"},
    {MINIMAL "      rx_desc: 64\n  burst: 128\n",
     "t.yaml:7: dataplane.ports[0].rx_desc: 64 is below dataplane.burst (128)"},
    /* workers and lcores */
    {"dataplane:\n  workers: []\n  ports: []\n",
     "t.yaml:2: dataplane.workers: needs at least 1 entry"},
    {"log_level: info\n", "t.yaml:1: dataplane.workers: required"},
    {MINIMAL "  main_lcore: 3\n  workers: [1]\n",
     "t.yaml:8: dataplane.workers: duplicate key (first on line 2)"},
    {"dataplane:\n  main_lcore: 1\n  workers: [2, 1]\n  ports:\n"
     "    - {name: a, device: net_null0, ipv4: 192.0.2.1/24}\n",
     "t.yaml:3: dataplane.workers[1]: lcore 1 is dataplane.main_lcore"},
    {"dataplane:\n  workers:\n    - 1\n    - 2\n    - 1\n",
     "t.yaml:5: dataplane.workers[2]: lcore 1 is listed twice"},
    {"dataplane:\n  workers: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n",
     "t.yaml:2: dataplane.workers[16]: more than 16 entries"},
    {"dataplane:\n  mbufs: 512\n  mbuf_cache: 400\n  workers: [1]\n  ports:\n"
     "    - {name: a, device: net_null0, ipv4: 192.0.2.1/24}\n",
     "t.yaml:3: dataplane.mbuf_cache: 400 is more than mbufs / 1.5"},
    /* eal_args */
    {"dataplane:\n  eal_args: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,"
     "a1,a2,a3,a4,a5,a6,a7]\n",
     "t.yaml:2: dataplane.eal_args[32]: more than 32 entries"},
    {"dataplane:\n  eal_args: [a, ~]\n",
     "t.yaml:2: dataplane.eal_args[1]: expected a string, got nothing"},
    /* dispatch */
    {MINIMAL "  dispatch:\n    - {port: 7, handler: echo}\n    - {port: 7, handler: drop}\n",
     "t.yaml:9: dataplane.dispatch[1].port: UDP port 7 is also in dispatch[0]"},
    {MINIMAL "  dispatch:\n    - {port: 7, handler: relay}\n",
     "t.yaml:8: dataplane.dispatch[0].handler: expected one of drop, punt, echo, turn, dht"},
    {MINIMAL "  dispatch:\n    - {port: 7}\n", "t.yaml:8: dataplane.dispatch[0].handler: required"},
    {MINIMAL "  dispatch:\n    - {port: 0, handler: drop}\n",
     "t.yaml:8: dataplane.dispatch[0].port: 0 is out of range 1..65535"},
    /* turn */
    {MINIMAL "turn:\n  allowed_peers: [10.0.0.1/8]\n",
     "t.yaml:8: turn.allowed_peers[0]: \"10.0.0.1/8\" has bits set past the prefix length"},
    {MINIMAL "turn:\n  denied_peers: [10.0.0.0/8, \"2001:db8::/129\"]\n",
     "t.yaml:8: turn.denied_peers[1]: prefix length out of range in \"2001:db8::/129\""},
    {MINIMAL "turn:\n  allowed_peers: [localhost]\n",
     "t.yaml:8: turn.allowed_peers[0]: \"localhost\" is not an address range"},
    {MINIMAL "turn:\n  default_lifetime: 900\n  max_lifetime: 600\n",
     "t.yaml:9: turn.max_lifetime: 600 is below default_lifetime 900"},
    {MINIMAL "turn:\n  users:\n    - {name: a, password: x}\n    - {name: a, password: y}\n",
     "t.yaml:10: turn.users[1].name: also the name of users[0]"},
    {MINIMAL "turn:\n  users:\n    - {name: a}\n", "t.yaml:9: turn.users[0].password: required"},
    {MINIMAL "turn:\n  realm: \"a b\"\n",
     "t.yaml:8: turn.realm: only letters, digits, '_', '-' and '.' are allowed"},
    /* duplicates */
    {"log_level: info\nlab_mode: true\nlog_level: warn\n",
     "t.yaml:3: log_level: duplicate key (first on line 1)"},
    {MINIMAL "      name: p1\n",
     "t.yaml:7: dataplane.ports[0].name: duplicate key (first on line 4)"},
    /* YAML itself */
    {"a: [1\n", "t.yaml:2: (yaml): did not find expected ',' or ']'"},
    {"a: b\n c\nd\n", "t.yaml:4: (yaml): could not find expected ':'"},
    {"x: &a 1\ny: *a\n", "t.yaml:2: (yaml): aliases are not supported"},
    {"log_level: info\n---\nlog_level: warn\n",
     "t.yaml:2: (yaml): only one YAML document is allowed"},
    {"a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i:\n         j:\n"
     "          k:\n           l:\n            m:\n             n:\n              o:\n"
     "               p:\n                q: 1\n",
     "t.yaml:17: (yaml): nesting deeper than 16 levels"},
    {"a: [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]\n",
     "t.yaml:1: (yaml): nesting deeper than 16 levels"},
    {"a: \x01\n", "t.yaml:1: (yaml): control characters are not allowed"},
    {"a: \xc3\x28\n", "t.yaml:1: (yaml): invalid trailing UTF-8 octet"},
    {"", "t.yaml:1: (root): empty file"},
    {"# just a comment\n\n", "t.yaml:1: (root): empty file"},
    {"---\n...\n", "t.yaml:1: (root): empty file"},
};

#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

/* Parameters are indexes: Criterion runs each case in a fresh process, where pointers taken
 * in the runner would not be valid. */
ParameterizedTestParameters(config, bad)
{
	static size_t idx[N_BAD];

	for (size_t i = 0; i < N_BAD; i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, N_BAD);
}

ParameterizedTest(size_t *i, config, bad)
{
	const struct bad_case *c = &bad_cases[*i];
	int rc = load_text(c->text);

	cr_expect_eq(rc, -EINVAL, "case %zu: rc %d for:\n%s", *i, rc, c->text);
	cr_expect_eq(strncmp(err, c->prefix, strlen(c->prefix)), 0,
		     "case %zu: got \"%s\"\nwant \"%s...\"", *i, err, c->prefix);
	/* An error leaves nothing to free. */
	cr_expect(all_zero(&cfg, sizeof(cfg)), "case %zu: config not cleared", *i);
	expect_no_leaks();
}

Test(config, error_after_eal_args_frees_them)
{
	const char *text = "dataplane:\n  eal_args: [--no-huge, -m, '512']\n  bogus: 1\n";

	cr_expect_eq(load_text(text), -EINVAL);
	cr_expect_str_eq(err, "t.yaml:3: dataplane.bogus: unknown key");
	cr_expect_eq(cfg.dataplane.n_eal_args, 0);
	cr_expect_null(cfg.dataplane.eal_args[0]);
	expect_no_leaks();
}

Test(config, long_unknown_key_is_cut)
{
	const char *text =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n";

	cr_expect_eq(load_text(text), -EINVAL);
	cr_expect_str_eq(err, "t.yaml:1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown key");
	expect_no_leaks();
}

Test(config, missing_file)
{
	const char *path = SN_SOURCE_ROOT "/configs/does-not-exist.yaml";
	char want[512];

	cr_expect_eq(sn_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s:0: (file): cannot open: ", path);
	cr_expect_eq(strncmp(err, want, strlen(want)), 0, "got \"%s\"", err);
	cr_expect(all_zero(&cfg, sizeof(cfg)));
	expect_no_leaks();
}

static void write_temp(char *path, size_t len, const char *text, size_t text_len)
{
	snprintf(path, len, "/tmp/sn-test-config-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, text_len), (ssize_t)text_len);
	close(fd);
}

Test(config, empty_file)
{
	char path[64], want[128];

	write_temp(path, sizeof(path), "", 0);
	cr_expect_eq(sn_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	unlink(path);
	snprintf(want, sizeof(want), "%s:1: (root): empty file", path);
	cr_expect_str_eq(err, want);
	expect_no_leaks();
}

Test(config, file_too_large)
{
	size_t len = SN_CONFIG_MAX_FILE + 1;
	char *big = malloc(len);
	char path[64];

	cr_assert_not_null(big);
	memset(big, '#', len);
	write_temp(path, sizeof(path), big, len);
	cr_expect_eq(sn_config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	unlink(path);
	cr_expect_eq(sn_config_load_buffer("big", big, len, &cfg, err, sizeof(err)), -EFBIG);
	cr_expect_str_eq(err, "big:0: (file): larger than 1048576 bytes");
	/* Exactly the limit is accepted as input (and then fails as an empty file). */
	cr_expect_eq(sn_config_load_buffer("big", big, len - 1, &cfg, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "big:1: (root): empty file");
	free(big);
	expect_no_leaks();
}

Test(config, directory_is_an_io_error)
{
	cr_expect_eq(sn_config_load("/", &cfg, err, sizeof(err)), -EIO);
	cr_expect_eq(strncmp(err, "/:0: (file): cannot read: ", 26), 0, "got \"%s\"", err);
	expect_no_leaks();
}

Test(config, tolerates_no_err_buffer)
{
	cr_expect_eq(sn_config_load_buffer("t", "x: 1\n", 5, &cfg, NULL, 0), -EINVAL);
	cr_expect_eq(sn_config_load_buffer("t", MINIMAL, strlen(MINIMAL), &cfg, NULL, 0), 0);
	sn_config_free(&cfg);
	/* Freeing twice is harmless. */
	sn_config_free(&cfg);
	expect_no_leaks();
}

Test(config, small_err_buffer_is_cut)
{
	char small[8];

	cr_expect_eq(sn_config_load_buffer("t.yaml", "x: 1\n", 5, &cfg, small, sizeof(small)),
		     -EINVAL);
	cr_expect_str_eq(small, "t.yaml:");
	expect_no_leaks();
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;

	cr_assert_not_null(f, "cannot open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	cr_assert_geq(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* docs/config.md is an intro followed by exactly what sn_config_print_doc() prints; rerun
 * the tool (supernode-control --config-doc) after changing the schema. */
Test(config, doc_matches_docs_config_md)
{
	char *doc = NULL, *file;
	size_t doc_len = 0, file_len;
	FILE *out = open_memstream(&doc, &doc_len);

	cr_assert_not_null(out);
	sn_config_print_doc(out);
	fclose(out);
	file = read_all(SN_SOURCE_ROOT "/docs/config.md", &file_len);
	cr_assert_gt(doc_len, 0);
	cr_expect(file_len >= doc_len && !memcmp(file + file_len - doc_len, doc, doc_len),
		  "docs/config.md does not end with the generated table; regenerate it:\n%s", doc);
	free(file);
	free(doc);
}
