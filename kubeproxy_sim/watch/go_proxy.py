"""Go's http.ProxyFromEnvironment (golang.org/x/net/http/httpproxy), for the requests client-go makes over its
default transport: an oidc auth-provider's discovery and token refresh (client-go's oidc plugin builds its
transport with restclient.TransportFor, whose http.Transport has Proxy: http.ProxyFromEnvironment, wrapped as below
when the provider has a CA: kubeproxy_sim.watch.oidc.idp_pool), and the API
server's requests of a kubeconfig whose cluster has no proxy-url (transport/cache.go: the transport's Proxy is
config.Proxy, which clientcmd sets from proxy-url alone, else http.ProxyFromEnvironment, which apimachinery's
SetTransportDefaults wraps in NewProxierWithNoProxyCIDR: :func:`client_go_proxy_for`).

Pure: the environment is given, as Go reads it once per process (the caller keeps a copy made at start).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from kubeproxy_sim.objects.addr import is_plain_ipv4, parse_cidr, parse_ip
from kubeproxy_sim.watch.go_idna import lookup_ascii

PORTS = {"http": "80", "https": "443", "socks5": "1080"}
"""httpproxy's portMap: the port of a URL without one."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def _env_any(environ: Mapping[str, str], *names: str) -> str:
    """httpproxy's getEnvAny: the first of ``names`` set to something, the capitals first."""
    return next((environ[name] for name in names if environ.get(name)), "")


def _parsed_proxy(value: str, refused: Callable[[str], bool] | None = None) -> str | None:
    """httpproxy's parseProxy (the newest, with url.Parse's scheme and host): a value of the form
    ``scheme://HOST...`` (any scheme: ``foo://host`` is kept, and the transport refuses it) as it is, its scheme in
    small letters; anything else (``proxy:3128``, ``127.0.0.1:3128``, ``localhost``) with ``http://`` before it;
    None for an empty value, and for one url.Parse refuses both as it is and with ``http://`` before it: parseProxy's
    "invalid proxy address" error, which config.init drops, so that no proxy is taken at all (``HTTPS_PROXY="a
    b:3128"``, a value ending in a newline). ``refused`` judges a ``scheme://HOST...`` URL (the caller's url.Parse;
    None: never refused), :func:`bare_url_refused` any other."""
    if not value:
        return None
    found = _SCHEME.match(value)
    prefixed = f"http://{value}"
    if found is not None and value[found.end() :].startswith("//"):
        authority = re.split(r"[/?#]", value[found.end() + 2 :], maxsplit=1)[0]
        if authority.rpartition("@")[2]:
            as_is = value[: found.end()].lower() + value[found.end() :]
            return None if refused is not None and refused(value) and refused(prefixed) else as_is
    return None if refused is not None and bare_url_refused(value) and refused(prefixed) else prefixed


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
"""A '%' net/url's unescape refuses: not followed by two hexadecimal digits."""


def bare_url_refused(value: str) -> bool:
    """Whether Go's url.Parse refuses ``value``, one not of the form ``scheme://HOST`` (net/url's parse and
    getScheme): a control character or DEL anywhere, a ':' first ("missing protocol scheme"), a ':' in the first
    segment of a path no scheme comes before ("first path segment in URL cannot contain colon"), a '%' not
    followed by two hexadecimal digits in its path or fragment (not in its query, kept raw, nor in the opaque
    part after a scheme with no '/'). A value led by ``//`` (a host with no scheme) is not judged: False."""
    if any(ord(char) < 0x20 or char == "\x7f" for char in value):
        return True
    value, _, fragment = value.partition("#")
    if _BAD_ESCAPE.search(fragment) or value.startswith(":"):
        return True
    found = _SCHEME.match(value)
    rest = (value[found.end() :] if found is not None else value).partition("?")[0]
    if (found is not None and not rest.startswith("/")) or rest.startswith("//"):
        return False
    return (found is None and ":" in rest.partition("/")[0]) or _BAD_ESCAPE.search(rest) is not None


def _go_ip(host: str) -> Any:
    """Go's net.ParseIP: four decimal numbers without leading zeros, or an IPv6 address (no zone), as a
    netaddr.IPAddress, else None (netaddr imported only here: the watch's start does not load it)."""
    import netaddr

    if is_plain_ipv4(host):
        return netaddr.IPAddress(host)
    if ":" in host and "%" not in host and netaddr.valid_ipv6(host):
        return netaddr.IPAddress(host)
    return None


def _request_ip(host: str) -> Any:
    """The newest useProxy's netip.ParseAddr, as net.IP: an IPv6 address may carry a zone (``fe80::1%eth0``),
    which AsSlice drops; an IPv4-mapped address is its IPv4 address (net.IP's To4, as IsLoopback, Equal and
    IPNet.Contains take it). None for a name."""
    address, percent, zone = host.partition("%")
    if percent and (not zone or ":" not in address):
        return None
    return _v4(_go_ip(address))


def _v4(ip: Any) -> Any:
    """``ip`` with an IPv4-mapped IPv6 address as its IPv4 address (net.IP's To4), None kept."""
    return ip.ipv4() if ip is not None and ip.version == 6 and ip.is_ipv4_mapped() else ip


def _split_host_port(text: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort, as far as NO_PROXY's entries need it: HOST:PORT or [HOST]:PORT, else None."""
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        return (host, rest[1:]) if close and rest.startswith(":") else None
    host, colon, port = text.rpartition(":")
    return (host, port) if colon and ":" not in host else None


def _no_proxy_for(host: str, port: str, ip: Any, no_proxy: str) -> bool:
    """Whether NO_PROXY (httpproxy's config.init and useProxy) keeps a request to ``host``:``port`` (small
    letters, ASCII; ``ip`` its address, :func:`_request_ip`) off the proxy: ``*``; for an address, an IP address
    or CIDR prefix (an address with a port matches that port only); for a name, a domain name (``*.`` dropped),
    which matches itself and the names under it, or under it only with a leading dot (``.y.com``), a port after
    it as for an address. A domain entry never matches an address (the newest domainMatch, CVE-2025-22870)."""
    import netaddr

    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if (
                    ip is not None
                    and _go_ip(entry.partition("/")[0]) is not None
                    and ip in netaddr.IPNetwork(entry, flags=netaddr.NOHOST)
                ):
                    return True
            except (netaddr.AddrFormatError, ValueError, TypeError):
                pass
            continue
        split = _split_host_port(entry)
        name, wanted_port = split if split is not None else (entry, "")
        if not name:
            continue
        if (entry_ip := _go_ip(name)) is not None:
            if ip is not None and _v4(entry_ip) == ip and wanted_port in ("", port):
                return True
            continue
        if ip is not None:
            continue
        name = name[1:] if name.startswith("*.") else name
        exact = not name.startswith(".")
        suffix = "." + name if exact else name
        if not suffix.isascii():
            suffix = lookup_ascii(suffix) or suffix
        if (host.endswith(suffix) or (exact and host == suffix[1:])) and wanted_port in ("", port):
            return True
    return False


_NAMES = {"https": ("HTTPS_PROXY", "https_proxy"), "http": ("HTTP_PROXY", "http_proxy")}
"""The variables httpproxy's FromEnvironment reads a scheme's proxy from, the capitals first."""


def proxy_variable(url: str, environ: Mapping[str, str]) -> str:
    """The name of the variable :func:`proxy_for` takes ``url``'s proxy from (``HTTPS_PROXY`` or ``https_proxy``,
    ``HTTP_PROXY`` or ``http_proxy``: the first set to something), for what the user is told; "" for none."""
    names = _NAMES.get(url.partition("://")[0].lower(), ())
    return next((name for name in names if environ.get(name)), "")


def _host_port(rest: str, scheme: str) -> tuple[str, str]:
    """The host (url.Hostname: brackets off, unescaped) and port (the scheme's without one) of a URL's part after
    ``scheme://``."""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    split = _split_host_port(authority)
    host, port = split if split is not None and split[1] else (authority.removesuffix(":"), PORTS[scheme])
    return urllib.parse.unquote(host.removeprefix("[").removesuffix("]")), port


def proxy_for(url: str, environ: Mapping[str, str], refused: Callable[[str], bool] | None = None) -> str | None:
    """The proxy URL Go's http.ProxyFromEnvironment gives a request for ``url`` (scheme://HOST[:PORT]/...), or None
    (straight there): HTTPS_PROXY (https_proxy) for https, HTTP_PROXY (http_proxy) for http, none for a host that
    is ``localhost`` as written (``LOCALHOST`` is a name like any other) or a loopback address, nor one NO_PROXY
    (no_proxy) names (:func:`_no_proxy_for`). A CGI environment (REQUEST_METHOD set) is refused HTTP_PROXY:
    ValueError, in Go's words (not when the value is dropped: ``refused``, :func:`_parsed_proxy`)."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        return None
    proxy = _parsed_proxy(_env_any(environ, *_NAMES[scheme]), refused)
    if proxy is None:
        return None
    if scheme == "http" and environ.get("REQUEST_METHOD"):
        raise ValueError("refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy")
    host, port = _host_port(rest, scheme)
    if not host.isascii():
        host = lookup_ascii(host) or host
    ip = _request_ip(host)
    if host == "localhost" or (ip is not None and ip.is_loopback()):
        return None
    host = host.strip().lower()
    return None if _no_proxy_for(host, port, ip, _env_any(environ, "NO_PROXY", "no_proxy")) else proxy


def client_go_proxy_for(url: str, environ: Mapping[str, str], cidr_wrapped: bool = True,
                        refused: Callable[[str], bool] | None = None) -> str | None:
    """The proxy client-go's transport takes for ``url`` without a proxy-url: :func:`proxy_for`, behind
    apimachinery's NewProxierWithNoProxyCIDR when ``cidr_wrapped`` (the transport client-go builds itself; not
    http.DefaultTransport, which tlsCache.get gives a config with no TLS options, dial or proxy of its own: an http
    server, an https one with neither CA, client certificate, insecure-skip-tls-verify, tls-server-name nor exec
    plugin). That wrapper goes straight to an address of the URL in a CIDR prefix of NO_PROXY (no_proxy when it is
    empty) before Go's rules are asked, both read as kube-proxy reads addresses (ParseIPSloppy, ParseCIDRSloppy:
    ``010.0.0.1`` is 10.0.0.1, an entry with a space around it is none), so an address Go's own matching takes for
    a name (``https://010.0.0.1``) is kept off the proxy by ``10.0.0.0/8``, and a CGI environment's refusal never
    comes for it (util/net/http.go). ``refused``: as for :func:`proxy_for`."""
    if cidr_wrapped and _in_no_proxy_cidr(url, environ):
        return None
    return proxy_for(url, environ, refused)


def _in_no_proxy_cidr(url: str, environ: Mapping[str, str]) -> bool:
    """Whether NewProxierWithNoProxyCIDR keeps ``url`` off the proxy (:func:`client_go_proxy_for`)."""
    import ipaddress

    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _NAMES:
        return False
    cidrs = [cidr for rule in _env_any(environ, "NO_PROXY", "no_proxy").split(",")
             if (cidr := parse_cidr(rule)) is not None]
    ip = parse_ip(_host_port(rest, scheme.lower())[0]) if cidrs else None
    if ip is None:
        return False
    address = ipaddress.ip_address(ip.text)  # (an IPv4-mapped address is IPv4 here, as IPNet.Contains takes it)
    return any(cidr.family is ip.family and address in ipaddress.ip_network(cidr.text) for cidr in cidrs)
