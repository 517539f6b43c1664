-- Pktgen-DPDK Lua script: replay a supernode-bench pcap loaded with -s 0:FILE.pcap at a
-- stepped rate and print what port 0 sent and received per step (the appliance's answers
-- and relayed packets come back on the same port when the peers' next hop is the generator).
-- Not run in this repository's CI; see README.md, "Load-testing with Pktgen-DPDK".
--   pktgen -l 0-2 -n 4 -a <PCI> -- -P -T -m "[1:2].0" -s 0:channeldata.pcap -f configs/pktgen/replay.lua
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local port = "0"
local rates = {1, 5, 10, 25, 50, 100} -- percent of line rate
local step_ms = 10000

pktgen.screen("off")
pktgen.set(port, "count", 0) -- loop the pcap until stopped
for _, rate in ipairs(rates) do
	pktgen.clr()
	pktgen.set(port, "rate", rate)
	pktgen.start(port)
	pktgen.delay(step_ms)
	pktgen.stop(port)
	pktgen.delay(500)
	local st = pktgen.portStats(port, "port")[tonumber(port)]
	printf("rate %3d%%: sent %d received %d packets in %d ms\n", rate,
		st.opackets, st.ipackets, step_ms)
end
pktgen.quit()
