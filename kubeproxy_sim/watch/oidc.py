"""An oidc auth-provider's id-token refreshed as client-go's oidc plugin refreshes it, with the identity provider
verified.

client-go (plugin/pkg/client/auth/oidc/oidc.go at the reference commit) finds the token endpoint by OpenID Connect
discovery (``<idp-issuer-url>/.well-known/openid-configuration``), POSTs ``grant_type=refresh_token`` there through
golang.org/x/oauth2 and takes the response's ``id_token``. Both go over a transport that verifies the identity
provider's certificate against ``idp-certificate-authority-data`` (base64), else ``idp-certificate-authority`` (a
file), else the system's roots. The Python client's own exchange (``KubeConfigLoader._refresh_oidc``) turned
verification off for the discovery when neither was given, so a server on the issuer's address with any
certificate could name its own token endpoint and be sent the refresh-token and the client secret: it is never run
(the watch's loader refreshes with :func:`refreshed_config` instead).

This module does the I/O of that exchange and nothing else; what is written back, and when, is the caller's.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import ssl
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ISSUER_URL = "idp-issuer-url"
CLIENT_ID = "client-id"
CLIENT_SECRET = "client-secret"
CA_FILE = "idp-certificate-authority"
CA_DATA = "idp-certificate-authority-data"
ID_TOKEN = "id-token"
REFRESH_TOKEN = "refresh-token"
"""The auth-provider config keys client-go's oidc plugin reads (its cfg* constants). ``extra-scopes`` is read by
neither: client-go logs that it is deprecated and sends no scope with a refresh, and so does this module."""

NO_ID_TOKEN = ("token response did not contain an id_token, either the scope \"openid\" wasn't requested upon login, "
               "or the provider doesn't support id_tokens as part of the refresh response")
"""client-go's words when the token endpoint's answer holds no id_token (some providers, Okta, send none)."""

CONNECT_TIMEOUT = 30.0
"""client-go's transport dials with a 30 s timeout and waits 10 s for a TLS handshake (utilnet.SetTransportDefaults);
it sets no timeout on the answer, and neither does this module."""

_BODY_LIMIT = 1 << 20
"""oauth2 reads at most 1 MiB of the token endpoint's answer."""


class OidcRefreshFailed(Exception):
    """Why the id-token could not be refreshed, in client-go's words (the request fails with them)."""


def provider_problem(config: Mapping[str, Any], ca: bytes | None = None) -> tuple[str, str] | None:
    """Why client-go cannot build the oidc provider for ``config`` (newOIDCAuthProvider, as the client is built:
    kubectl fails with it whatever the id-token), and the config key at fault; None when it can. The CA file is
    read as client-go reads it then, unless its bytes as read at start are given (``ca``)."""
    cfg = {str(key): "" if value is None else str(value) for key, value in config.items()}
    for key in (ISSUER_URL, CLIENT_ID):
        if not cfg.get(key):
            return f"Must provide {key}", key
    try:
        tls_context(cfg, ca)
    except OidcRefreshFailed as exc:
        return str(exc), CA_DATA if cfg.get(CA_DATA) else CA_FILE
    return None


@dataclass(frozen=True, slots=True)
class IdpTransport:
    """What client-go's oidc provider fixes as it is built (newOIDCAuthProvider, once per process for a kubeconfig
    user), which later refreshes use rather than read again: the identity provider's CA PEM (``ca``: the
    ``idp-certificate-authority`` file's bytes as they were then; None: read from the config, the data or the
    file) and the environment Go's ProxyFromEnvironment reads once (``environ``: the watch gives the one copy its
    server's requests follow, as Go's process reads it once for the client-go transport and the provider's
    http.Client alike). ``refused``: whether Go's url.Parse refuses a ``scheme://HOST`` proxy value, the rule the
    server's requests follow too (a value refused both as written and with http:// before it is no proxy:
    :func:`kubeproxy_sim.watch.go_proxy.proxy_for`); None: never refused."""

    ca: bytes | None
    environ: Mapping[str, str]
    refused: Callable[[str], bool] | None = None


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                   "REQUEST_METHOD")
"""The environment Go's ProxyFromEnvironment reads (kubeproxy_sim.watch.go_proxy)."""


def idp_transport(config: Mapping[str, Any], environ: Mapping[str, str],
                  refused: Callable[[str], bool] | None = None) -> IdpTransport:
    """The :class:`IdpTransport` of an oidc auth-provider ``config`` now: its CA file read (None when it has
    CA data or no file, or the file cannot be read: the refresh says so in client-go's words), over a copy of
    ``environ`` and the url.Parse rule ``refused``."""
    cfg = {str(key): "" if value is None else str(value) for key, value in config.items()}
    ca = None
    if not cfg.get(CA_DATA) and (path := cfg.get(CA_FILE, "")):
        try:
            with open(path, "rb") as stream:
                ca = stream.read()
        except OSError:
            ca = None
    return IdpTransport(ca, dict(environ), refused)


def refreshed_config(config: Mapping[str, Any], transport: IdpTransport | None = None) -> dict[str, str]:
    """client-go's oidcAuthProvider.idToken past the freshness check: the auth-provider ``config`` with the new
    id-token, and the new refresh-token when the provider sent one that differs, or :class:`OidcRefreshFailed`.
    The checks client-go makes as it builds the provider (issuer URL and client id given, the CA readable) come
    first, as they fail every request there."""
    cfg = {str(key): "" if value is None else str(value) for key, value in config.items()}
    issuer, client_id = cfg.get(ISSUER_URL, ""), cfg.get(CLIENT_ID, "")
    if not issuer:
        raise OidcRefreshFailed(f"Must provide {ISSUER_URL}")
    if not client_id:
        raise OidcRefreshFailed(f"Must provide {CLIENT_ID}")
    context = tls_context(cfg, None if transport is None else transport.ca)
    refresh_token = cfg.get(REFRESH_TOKEN, "")
    if not refresh_token:
        raise OidcRefreshFailed("No valid id-token, and cannot refresh without refresh-token")
    pool = idp_pool(cfg, context, transport)
    token_url = token_endpoint(pool, issuer)
    try:
        answer = _token_answer(pool, token_url, client_id, cfg.get(CLIENT_SECRET, ""), refresh_token)
    except OidcRefreshFailed as exc:
        raise OidcRefreshFailed(f"failed to refresh token: {exc}") from None
    id_token = answer.extra("id_token")
    if not isinstance(id_token, str):
        raise OidcRefreshFailed(NO_ID_TOKEN)
    new = dict(cfg)
    rotated = answer.field("refresh_token")
    if rotated and rotated != refresh_token:
        new[REFRESH_TOKEN] = rotated
    new[ID_TOKEN] = id_token
    return new


def tls_context(cfg: Mapping[str, str], ca: bytes | None = None) -> ssl.SSLContext:
    """The TLS client client-go's oidc plugin builds (restclient.TransportFor with CAData, else CAFile): the
    certificate and the host name verified, against the PEM certificates of ``idp-certificate-authority-data``
    (base64), else of the ``idp-certificate-authority`` file (read as given: clientcmd resolves no auth-provider
    path against the kubeconfig's directory; ``ca``, its bytes read once when given), else the system's roots. A
    PEM holding no certificate trusts nothing (Go's AppendCertsFromPEM skips what it cannot parse and the pool is
    used as it is)."""
    data = cfg.get(CA_DATA, "")
    pem: bytes | None = None
    if data:
        pem = go_std_b64decode(data)
    elif ca is not None and cfg.get(CA_FILE, ""):  # (the file as read when the provider was built: client-go's)
        pem = ca
    elif path := cfg.get(CA_FILE, ""):
        try:
            with open(path, "rb") as stream:
                pem = stream.read()
        except OSError as exc:
            raise OidcRefreshFailed(f"open {path}: {_errno_text(exc)}") from None
    if not pem:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # (verifies certificate and host name; no roots loaded)
    for block in re.findall(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", pem, re.DOTALL):
        try:
            context.load_verify_locations(cadata=block.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            continue  # (Go skips a block it cannot parse)
    return context


def go_std_b64decode(text: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString (padded; CR and LF skipped), its error in Go's words ("illegal base64
    data at input byte N": the first byte no alphabet holds, else the input's length for a bad ending)."""
    for at, char in enumerate(text):
        if char not in "\r\n=" and not (char.isascii() and (char.isalnum() or char in "+/")):
            raise OidcRefreshFailed(f"illegal base64 data at input byte {at}")
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except binascii.Error:
        raise OidcRefreshFailed(f"illegal base64 data at input byte {len(text)}") from None


class _Pools:
    """The identity provider's transport as client-go's: one TLS client (``context``) and Go's
    http.ProxyFromEnvironment (:func:`kubeproxy_sim.watch.go_proxy.client_go_proxy_for` over ``environ``, a value
    ``refused`` by url.Parse both ways no proxy), a request going straight there or through the proxy the
    environment gives its URL (an https one through a CONNECT tunnel, the proxy URL's user sent as
    Proxy-Authorization, as Go sends it). urllib3's PoolManager used no proxy. ``own``: the provider has a CA
    (data or file), so restclient.TransportFor builds a transport of its own, whose proxy apimachinery's
    SetTransportDefaults wraps in NewProxierWithNoProxyCIDR (NO_PROXY's CIDR prefixes asked first, read as
    kube-proxy reads them), as for the server's; without one it gives http.DefaultTransport, Go's rules alone."""

    def __init__(self, context: ssl.SSLContext, environ: Mapping[str, str],
                 refused: Callable[[str], bool] | None = None, own: bool = False) -> None:
        self._context, self._environ, self._refused, self._own = context, environ, refused, own
        self._managers: dict[str | None, Any] = {}

    def _manager(self, proxy: str | None) -> Any:
        import urllib3

        if proxy in self._managers:
            return self._managers[proxy]
        kwargs: dict[str, Any] = {
            "ssl_context": self._context, "timeout": urllib3.Timeout(connect=CONNECT_TIMEOUT, read=None),
            "retries": urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=10,
                                     raise_on_redirect=False)}
        if proxy is None:
            manager = urllib3.PoolManager(**kwargs)
        elif proxy.startswith(("socks5:", "socks5h:")):  # (Go's transport takes both, the name resolved there)
            manager = _socks_manager("socks5h:" + proxy.partition(":")[2], kwargs)
        else:
            user = urllib.parse.unquote(urllib.parse.urlsplit(proxy).netloc.rpartition("@")[0]) if "@" in proxy \
                else ""
            headers = urllib3.make_headers(proxy_basic_auth=user) if user else None
            manager = urllib3.ProxyManager(proxy, proxy_headers=headers, **kwargs)
        self._managers[proxy] = manager
        return manager

    def proxy_of(self, url: str) -> str | None:
        """The proxy the environment gives a request for ``url``, None straight there (ValueError: a CGI
        environment's HTTP_PROXY refused)."""
        from kubeproxy_sim.watch.go_proxy import client_go_proxy_for

        return client_go_proxy_for(url, self._environ, self._own, self._refused)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """One request, through the proxy the environment gives ``url`` (a CGI environment's HTTP_PROXY refused,
        as a transport failure)."""
        return self._manager(self.proxy_of(url)).request(method, url, **kwargs)


def _socks_manager(proxy: str, kwargs: dict[str, Any]) -> Any:
    """urllib3's SOCKS pool for a socks5 proxy, or OSError (a transport failure of the request, in its words) when
    PySocks, which it needs, is not installed: an ImportError was no transport failure and escaped the refresh."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from urllib3.contrib.socks import SOCKSProxyManager
    except ImportError:
        raise OSError(f"proxyconnect {proxy}: a SOCKS5 proxy needs PySocks, which is not installed") from None
    return SOCKSProxyManager(proxy, **kwargs)


def idp_pool(cfg: Mapping[str, str], context: ssl.SSLContext, transport: IdpTransport | None = None) -> _Pools:
    """The identity provider's transport for the auth-provider config ``cfg`` over ``context`` (its TLS client),
    with the environment and url.Parse rule of ``transport`` (None: os.environ, no value refused), as one of
    client-go's own (NO_PROXY's CIDR prefixes asked first) when ``cfg`` names a CA, as restclient.TransportFor
    builds it (a TLS config: TLSConfigFor's HasCA, CAData or CAFile)."""
    own = bool(cfg.get(CA_DATA) or cfg.get(CA_FILE))
    if transport is None:
        return _pool(context, None, None, own)
    return _pool(context, transport.environ, transport.refused, own)


def _pool(context: ssl.SSLContext, environ: Mapping[str, str] | None = None,
          refused: Callable[[str], bool] | None = None, own: bool = False) -> _Pools:
    return _Pools(context, os.environ if environ is None else environ, refused, own)


def token_endpoint(pool: Any, issuer: str) -> str:
    """client-go's tokenEndpoint: discovery at the issuer (one trailing slash dropped), a 200 whose JSON names a
    token_endpoint, else its words (the answer's body cut to 80 bytes)."""
    url = issuer.removesuffix("/") + "/.well-known/openid-configuration"
    status, reason, body = _request(pool, "GET", url)
    if status != 200:
        shown = body[:80] + b"..." if len(body) > 80 else body
        raise OidcRefreshFailed(f"oidc: failed to query metadata endpoint {status} {reason}: {go_quote(shown)}")
    try:
        metadata = json.loads(body)
    except ValueError as exc:
        raise OidcRefreshFailed(f"oidc: failed to decode provider discovery object: {exc}") from None
    found = metadata.get("token_endpoint") if isinstance(metadata, dict) else None
    if found is not None and not isinstance(found, str):
        raise OidcRefreshFailed("oidc: failed to decode provider discovery object: json: cannot unmarshal "
                                f"{_json_kind(found)} into Go struct field .token_endpoint of type string")
    if not found:
        raise OidcRefreshFailed("oidc: discovery object doesn't contain a token_endpoint")
    return str(found)


def _token_answer(pool: Any, url: str, client_id: str, secret: str, refresh_token: str) -> _Answer:
    """oauth2's RetrieveToken with AuthStyleAutoDetect (client-go's oauth2.Config sets no AuthStyle, and builds a
    new Config, with an empty style cache, for each refresh): the client id and secret URL-escaped in a Basic
    Authorization header first; any failure, and the request is sent again with them in the form instead
    (client_id, client_secret, each only when not empty); the second's failure is the one said."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    basic = base64.b64encode(f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}".encode())
    try:
        return _token_round_trip(pool, url, form, {"Authorization": f"Basic {basic.decode('ascii')}"})
    except OidcRefreshFailed:
        in_params = {**form, **({"client_id": client_id} if client_id else {}),
                     **({"client_secret": secret} if secret else {})}
        return _token_round_trip(pool, url, in_params, {})


@dataclass(frozen=True, slots=True)
class _Answer:
    """The token endpoint's answer as oauth2 decodes it: a form (each key's values) or a JSON object."""

    values: Mapping[str, Any]
    form: bool = False

    def field(self, key: str) -> str:
        """A string field as oauth2 reads it into its Token (absent, or a JSON non-string: empty)."""
        value = self.values.get(key)
        if self.form:
            return str(value[0]) if value else ""
        return value if isinstance(value, str) else ""

    def extra(self, key: str) -> Any:
        """oauth2's Token.Extra: a JSON value as decoded; a form's first value ("" when absent), read as an integer
        (no dot) or a float (one dot) when it parses as one: then it is no string."""
        if not self.form:
            return self.values.get(key)
        value = self.field(key)
        trimmed = value.strip()
        if "." not in trimmed and re.fullmatch(r"[+-]?\d+", trimmed):
            return int(trimmed)
        if trimmed.count(".") == 1:
            try:
                return float(trimmed)
            except ValueError:
                pass
        return value


def _token_round_trip(pool: Any, url: str, form: dict[str, str], headers: dict[str, str]) -> _Answer:
    """oauth2's doTokenRoundTrip: the answer read as a form (for a form or text/plain Content-Type) or as JSON,
    refused for a status outside 2xx or an ``error`` field (RetrieveError's words), or without an access_token."""
    encoded = urllib.parse.urlencode(sorted(form.items()))  # (Go's url.Values.Encode sorts by key)
    status, reason, body = _request(pool, "POST", url, encoded.encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded", **headers})
    failed = status < 200 or status > 299
    if body.content_type in ("application/x-www-form-urlencoded", "text/plain"):
        answer = _Answer(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True), form=True)
    else:
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            if failed:
                raise OidcRefreshFailed(_retrieve_error(status, reason, body, _Answer({}))) from None
            raise OidcRefreshFailed(f"oauth2: cannot parse json: {exc}") from None
        answer = _Answer(decoded if isinstance(decoded, dict) else {})
    if failed or answer.field("error"):
        raise OidcRefreshFailed(_retrieve_error(status, reason, body, answer))
    if not answer.field("access_token"):
        raise OidcRefreshFailed("oauth2: server response missing access_token")
    return answer


def _retrieve_error(status: int, reason: str, body: bytes, answer: _Answer) -> str:
    """oauth2's RetrieveError: the error code (with its description and URI) quoted, else the status and body."""
    code = answer.field("error")
    if code:
        said = f"oauth2: {go_quote(code.encode())}"
        for extra in ("error_description", "error_uri"):
            if value := answer.field(extra):
                said += f" {go_quote(value.encode())}"
        return said
    return f"oauth2: cannot fetch token: {status} {reason}\nResponse: {body.decode('utf-8', 'replace')}"


class _Body(bytes):
    """An answer's body with its media type (Content-Type without parameters, in small letters)."""

    content_type: str = ""


def _request(pool: Any, method: str, url: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str, _Body]:
    """One request through ``pool``; a transport failure in Go's url.Error form (``Get "URL": ...``)."""
    import urllib3

    try:
        response = pool.request(method, url, body=body, headers=headers or {}, preload_content=False,
                                redirect=True)
        try:
            raw = response.read(_BODY_LIMIT) if method == "POST" else response.read()
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise OidcRefreshFailed(f"{method.title()} {go_quote(url.encode())}: {transport_failure(exc)}") from None
    read = _Body(raw)
    read.content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return response.status, response.reason or "", read


def transport_failure(exc: BaseException) -> str:
    """What Go's transport says of a failed connection to the identity provider: a certificate it does not verify
    is Go's "tls: failed to verify certificate: x509: certificate signed by unknown authority" (self-signed, or no
    chain to the roots given), other verification failures in OpenSSL's words; a refused connection Go's
    "connect: connection refused"; anything else its first line."""
    causes = _causes(exc)
    verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        if verify.verify_code in (18, 19, 20, 21):  # (self-signed, self-signed in chain, no local issuer, no leaf)
            return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        return f"tls: failed to verify certificate: {verify.verify_message or verify}"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connect: connection refused"
    last = causes[-1]
    text = str(last).strip().splitlines()
    return text[0] if text else type(last).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [e for e in (getattr(current, "reason", None), *current.args, current.__cause__, current.__context__)
                 if isinstance(e, BaseException)]
    return seen


def _errno_text(exc: OSError) -> str:
    text = exc.strerror or type(exc).__name__
    return text[:1].lower() + text[1:]


def _json_kind(value: Any) -> str:
    """Go's name for a JSON value's kind, as its decoder says it cannot unmarshal one."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


def go_quote(data: bytes) -> str:
    """Go's %q of a byte string (strconv.Quote): printable characters as they are, ``"`` and ``\\`` escaped, the
    C escapes, other control and non-printable characters as \\x, \\u or \\U, a byte that is no UTF-8 as \\x."""
    out = ['"']
    text = data.decode("utf-8", "surrogateescape")
    short = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
             '"': '\\"', "\\": "\\\\"}
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # (a byte no UTF-8 sequence holds)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char in short:
            out.append(short[char])
        elif char == " " or (code >= 0x20 and unicodedata.category(char)[0] not in "CZ"):
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out) + '"'
