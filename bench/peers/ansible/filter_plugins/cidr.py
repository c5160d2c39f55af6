"""cidr_contains: the one address test the worker role needs (ansible.utils' ipaddr
filters need netaddr and a collection that ansible-core does not ship)."""
import ipaddress


def cidr_contains(outer, inner):
    """True when the network or address `inner` lies inside the network `outer`."""
    net = ipaddress.ip_network(str(outer), strict=False)
    other = ipaddress.ip_network(str(inner), strict=False)
    return other.version == net.version and other.subnet_of(net)


class FilterModule(object):
    def filters(self):
        return {'cidr_contains': cidr_contains}
