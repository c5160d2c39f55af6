/**
 * Output of `ip -j addr show` recorded in throwaway network namespaces (iproute2 6.1.0,
 * Linux 6.18), for the parser's tests and the decisions of the modules that move addresses.
 * Each state is IPADDR_FIXTURE_BASE followed by its own lines, run with `sh -e` in a fresh
 * namespace; the address with lifetimes is what a DHCP client (systemd-networkd, dhclient,
 * NetworkManager) adds: the kernel keeps counting its lifetime down and `ip` flags it
 * `'dynamic': true`. ipaddr.test.ts re-creates each state (as root) and checks that
 * `ip -j -d addr show` still reports the same addresses, so these strings cannot drift from
 * what hosts print (the lifetimes only count down).
 */

/** The common part: eth1 (a veth whose peer p0 stays in the namespace) and the bridge breth1 (eth1's MAC, up). */
export const IPADDR_FIXTURE_BASE: readonly string[] = [
  'ip link add eth1 address 02:00:0a:4d:00:02 type veth peer name p0 address 02:00:0a:4d:00:01',
  'ip link set p0 up',
  'ip link set eth1 up',
  'ip link add breth1 type bridge stp_state 0 ageing_time 0',
  'ip link set dev breth1 address 02:00:0a:4d:00:02',
  'ip link set dev breth1 up',
];

export const IPADDR_FIXTURES = {
  /**
   * eth1 holding a leased IPv4 address (10.77.0.2/24, valid 300 s, as a DHCP client adds
   * it), a static secondary IPv4 address, a static IPv6 address and an IPv6 address with
   * lifetimes (2001:db8:77::7/64); breth1 an empty bridge.
   */
  leased: {
    setup: [
      'ip addr add 10.77.0.2/24 brd + dev eth1 valid_lft 300 preferred_lft 300',
      'ip addr add 10.77.0.9/24 dev eth1',
      'ip -6 addr add 2001:db8:77::2/64 dev eth1 nodad',
      'ip -6 addr add 2001:db8:77::7/64 dev eth1 nodad valid_lft 600 preferred_lft 300',
    ],
    stdout: '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]},{"ifindex":2,"link":"eth1","ifname":"p0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::aff:fe4d:1","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"link":"p0","ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.77.0.2","prefixlen":24,"broadcast":"10.77.0.255","scope":"global","dynamic":true,"label":"eth1","valid_life_time":300,"preferred_life_time":300},{"family":"inet","local":"10.77.0.9","prefixlen":24,"scope":"global","secondary":true,"label":"eth1","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"2001:db8:77::7","prefixlen":64,"scope":"global","nodad":true,"dynamic":true,"valid_life_time":600,"preferred_life_time":300},{"family":"inet6","local":"2001:db8:77::2","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::aff:fe4d:2","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"ifname":"breth1","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]}]\n',
  },
  /**
   * The uplink bridged by the host's own configuration (netplan `bridges: breth1:
   * interfaces: [eth1]` with `dhcp4: true`): eth1 a port of breth1, the lease on breth1.
   */
  bridged: {
    setup: [
      'ip link set dev eth1 master breth1',
      'ip addr add 10.77.0.2/24 brd + dev breth1 valid_lft 300 preferred_lft 300',
      'ip -6 addr add 2001:db8:77::2/64 dev breth1 nodad',
    ],
    stdout: '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]},{"ifindex":2,"link":"eth1","ifname":"p0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::aff:fe4d:1","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"link":"p0","ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"breth1","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::aff:fe4d:2","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"ifname":"breth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.77.0.2","prefixlen":24,"broadcast":"10.77.0.255","scope":"global","dynamic":true,"label":"breth1","valid_life_time":300,"preferred_life_time":300},{"family":"inet6","local":"2001:db8:77::2","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::aff:fe4d:2","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]\n',
  },
  /**
   * After a move of the leased address as a static one: eth1 a port of breth1, breth1
   * carrying 10.77.0.2/24 without lifetime, and the DHCP client having re-added
   * 10.77.0.2/24 with its lease on eth1.
   */
  renewed: {
    setup: [
      'ip link set dev eth1 master breth1',
      'ip addr add 10.77.0.2/24 brd + dev breth1',
      'ip -6 addr add 2001:db8:77::2/64 dev breth1 nodad',
      'ip addr add 10.77.0.2/24 brd + dev eth1 valid_lft 300 preferred_lft 300',
    ],
    stdout: '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]},{"ifindex":2,"link":"eth1","ifname":"p0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::aff:fe4d:1","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"link":"p0","ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"breth1","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.77.0.2","prefixlen":24,"broadcast":"10.77.0.255","scope":"global","dynamic":true,"label":"eth1","valid_life_time":300,"preferred_life_time":300},{"family":"inet6","local":"fe80::aff:fe4d:2","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"ifname":"breth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:0a:4d:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.77.0.2","prefixlen":24,"broadcast":"10.77.0.255","scope":"global","label":"breth1","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"2001:db8:77::2","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::aff:fe4d:2","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]\n',
  },
} as const satisfies Record<string, { setup: readonly string[]; stdout: string }>;

export type IpAddrFixtureName = keyof typeof IPADDR_FIXTURES;
