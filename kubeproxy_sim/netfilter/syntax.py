"""The syntax of one rule: iptables-restore's tokenizer, option ownership, canonical rendering.

Tokenizing follows iptables-restore: whitespace separates words, double quotes
group them, and inside quotes a backslash escapes the next character (single
quotes are ordinary characters). Options are then attributed to the match
module that owns them, the way iptables' option parser does: the most recent
``-m`` module that knows the option, else the module implied by ``-p``.

The canonical text of a rule is what :func:`render_spec` writes: short flags,
``! -flag value`` negation, values quoted only when the tokenizer needs it.
kube-proxy's output is already in that form, so it round-trips byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.model import Option, RuleSpec, Target

BUILTIN_FLAGS: dict[str, str] = {
    "-s": "-s", "--source": "-s", "--src": "-s",
    "-d": "-d", "--destination": "-d", "--dst": "-d",
    "-p": "-p", "--protocol": "-p",
    "-i": "-i", "--in-interface": "-i",
    "-o": "-o", "--out-interface": "-o",
    "-f": "-f", "--fragment": "-f",
}
MATCH_FLAGS = {"-m", "--match"}
TARGET_FLAGS = {"-j": False, "--jump": False, "-g": True, "--goto": True}

# Options each modelled match module accepts. A module missing here is kept
# verbatim and takes every option that follows it.
MODULE_FLAGS: dict[str, frozenset[str]] = {
    name: frozenset(flags.split())
    for name, flags in {
        "tcp": "--sport --source-port --dport --destination-port --tcp-flags --syn --tcp-option",
        "udp": "--sport --source-port --dport --destination-port",
        "sctp": "--sport --source-port --dport --destination-port --chunk-types",
        "udplite": "--sport --source-port --dport --destination-port",
        "dccp": "--sport --source-port --dport --destination-port --dccp-types --dccp-option",
        "icmp": "--icmp-type",
        "icmp6": "--icmpv6-type",
        "icmpv6": "--icmpv6-type",
        "multiport": "--sports --source-ports --dports --destination-ports --ports",
        "comment": "--comment",
        "mark": "--mark",
        "connmark": "--mark",
        "addrtype": "--src-type --dst-type --limit-iface-in --limit-iface-out",
        "statistic": "--mode --probability --every --packet",
        "recent": "--name --set --rcheck --update --remove --seconds --reap --hitcount --rttl --mask"
        " --rsource --rdest",
        "conntrack": "--ctstate --ctproto --ctorigsrc --ctorigdst --ctreplsrc --ctrepldst --ctorigsrcport"
        " --ctorigdstport --ctreplsrcport --ctrepldstport --ctstatus --ctexpire --ctdir",
        "state": "--state",
        "set": "--match-set --return-nomatch --update-counters --update-subcounters --packets-eq"
        " --packets-lt --packets-gt --bytes-eq --bytes-lt --bytes-gt",
        "physdev": "--physdev-in --physdev-out --physdev-is-in --physdev-is-out --physdev-is-bridged",
        "nfacct": "--nfacct-name",
        "limit": "--limit --limit-burst",
        "iprange": "--src-range --dst-range",
        "mac": "--mac-source",
        "owner": "--uid-owner --gid-owner --socket-exists --suppl-groups",
        "pkttype": "--pkt-type",
        "length": "--length",
        "ttl": "--ttl-eq --ttl-gt --ttl-lt",
        "hl": "--hl-eq --hl-gt --hl-lt",
        "tos": "--tos",
        "dscp": "--dscp --dscp-class",
        "rpfilter": "--loose --validmark --accept-local --invert",
        "socket": "--transparent --nowildcard --restore-skmark",
        "devgroup": "--src-group --dst-group",
        "cgroup": "--cgroup --path",
    }.items()
}
# Aliases iptables-save never writes; the canonical text uses the short name.
FLAG_ALIASES = {
    "--source-port": "--sport",
    "--destination-port": "--dport",
    "--source-ports": "--sports",
    "--destination-ports": "--dports",
}
ZERO_ARG_FLAGS = frozenset(
    "-f --syn --set --rcheck --update --remove --reap --rttl --rsource --rdest --physdev-is-in"
    " --physdev-is-out --physdev-is-bridged --limit-iface-in --limit-iface-out --return-nomatch"
    " --update-counters --update-subcounters --socket-exists --suppl-groups --loose --validmark"
    " --accept-local --invert --transparent --nowildcard --restore-skmark --random --random-fully"
    " --persistent --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode"
    " --notrack --save-mark --restore-mark".split()
)
IMPLICIT_PROTOCOL_MODULES = {"tcp", "udp", "sctp", "udplite", "dccp", "icmp", "icmpv6", "ipv6-icmp"}
# -p value (name or number, lower case) -> the match iptables loads implicitly for its options.
PROTOCOL_MODULES = {
    "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "sctp": "sctp", "132": "sctp",
    "udplite": "udplite", "136": "udplite", "dccp": "dccp", "33": "dccp", "icmp": "icmp", "1": "icmp",
    "icmpv6": "icmp6", "ipv6-icmp": "icmp6", "icmp6": "icmp6", "58": "icmp6",
}


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    quoted: bool = False

    def is_flag(self) -> bool:
        return not self.quoted and len(self.text) > 1 and self.text[0] == "-" and not self.text[1].isdigit()

    def is_bang(self) -> bool:
        return not self.quoted and self.text == "!"


def tokenize(text: str, *, line: int | None = None, file: str | None = None) -> list[Token]:
    """Split like iptables-restore: double quotes group words, ``\\`` escapes inside quotes."""
    tokens: list[Token] = []
    buf: list[str] = []
    in_quotes = quoted = escaped = False
    for ch in text:
        if in_quotes:
            if escaped:
                buf.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
            else:
                buf.append(ch)
            continue
        if ch == '"':
            in_quotes = quoted = True
        elif ch in " \t\r\n":
            if buf or quoted:
                tokens.append(Token("".join(buf), quoted))
                buf, quoted = [], False
        else:
            buf.append(ch)
    if in_quotes:
        raise RulesSyntaxError("unterminated quoted string", file=file, line=line,
                               token=text[text.rfind('"'):][:40], expected='a closing "')
    if buf or quoted:
        tokens.append(Token("".join(buf), quoted))
    return tokens


def quote(value: str) -> str:
    """A value as the canonical text writes it: bare when the tokenizer reads it back unchanged."""
    if value and not any(c in value for c in ' \t\r\n"') and value != "!" and not (
        value[0] == "-" and len(value) > 1 and not value[1].isdigit()
    ):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_option(option: Option) -> str:
    head = f"! {option.flag}" if option.negated else option.flag
    if not option.args:
        return head
    return head + " " + " ".join(quote(a) for a in option.args)


def render_spec(spec: RuleSpec) -> str:
    """Canonical text of a rule's specification (what follows ``-A CHAIN``)."""
    parts = [render_option(o) for o in spec.options]
    if spec.target is not None:
        parts.append(("-g " if spec.target.goto else "-j ") + quote(spec.target.name))
        parts.extend(render_option(o) for o in spec.target.options)
    return " ".join(parts)


def parse_spec(spec: str, *, line: int | None = None, file: str | None = None) -> RuleSpec:
    """Typed view of a rule's specification text."""
    return interpret(tokenize(spec, line=line, file=file), line=line, file=file)


class _Interpreter:
    """Walks the tokens of one rule once, attributing each option to its owner."""

    def __init__(self, tokens: list[Token], line: int | None, file: str | None) -> None:
        self.tokens = tokens
        self.pos = 0
        self.line = line
        self.file = file
        self.options: list[Option] = []
        self.modules: list[str] = []
        self.protocol_module = ""
        self.target: Target | None = None
        self.target_options: list[Option] = []
        self.modules_before_target = 0

    def error(self, message: str, token: str | None, expected: str) -> RulesSyntaxError:
        return RulesSyntaxError(message, file=self.file, line=self.line, token=token, expected=expected)

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take_value(self, flag: str, what: str) -> str:
        token = self.peek()
        if token is None or token.is_flag() or token.is_bang():
            raise self.error(f"{flag} needs {what}", token.text if token else "end of rule", what)
        self.pos += 1
        return token.text

    def run(self) -> RuleSpec:
        while (token := self.peek()) is not None:
            negated = False
            if token.is_bang():
                negated = True
                self.pos += 1
                token = self.peek()
                if token is None or not token.is_flag():
                    raise self.error("'!' must precede an option", token.text if token else "end of rule",
                                     "an option such as -s or --dport")
            if not token.is_flag():
                raise self.error("unexpected value", token.text, "an option such as -s, -m or -j")
            self.pos += 1
            self.option(token.text, negated)
        if self.target is not None:
            self.target = Target(self.target.name, tuple(self.target_options), self.target.goto)
        return RuleSpec(tuple(self.options), self.target)

    def option(self, flag: str, negated: bool) -> None:
        if negated and (flag in MATCH_FLAGS or flag in TARGET_FLAGS):
            raise self.error(f"'!' cannot negate {flag}", flag, "'!' before one of the match's options")
        if flag in MATCH_FLAGS:
            module = self.take_value(flag, "a match module name")
            self.modules.append(module)
            self.options.append(Option("-m", (module,), False, module))
        elif flag in TARGET_FLAGS:
            if self.target is not None:
                raise self.error("a rule has one target", flag, "no second -j/-g")
            self.target = Target(self.take_value(flag, "a target name"), (), TARGET_FLAGS[flag])
            self.modules_before_target = len(self.modules)
        elif flag in BUILTIN_FLAGS:
            self.builtin(BUILTIN_FLAGS[flag], negated)
        elif self.target is not None and self._owner(flag, self.modules_before_target, False) is None:
            # iptables takes options in any order: after -j, an option belongs to the
            # target unless a match loaded after the target knows it.
            self.target_options.append(Option(flag, self.args(flag)[0], negated, self.target.name))
        else:
            owner = self._owner(flag)
            if owner is None:
                raise self.error("unknown option", flag, "an option of a loaded match (-m MODULE) or target")
            args, old_negation = self.args(flag)
            self.options.append(Option(FLAG_ALIASES.get(flag, flag), args, negated or old_negation, owner))

    def builtin(self, flag: str, negated: bool) -> None:
        if flag == "-f":
            self.options.append(Option(flag, (), negated))
            return
        args, old_negation = self.args(flag)
        if len(args) != 1:
            raise self.error(f"{flag} takes one value", " ".join(args) or "nothing", "one value")
        if flag == "-p":
            self.protocol_module = PROTOCOL_MODULES.get(args[0].lower(), "")
        self.options.append(Option(flag, args, negated or old_negation))

    def args(self, flag: str) -> tuple[tuple[str, ...], bool]:
        """The values of an option; a leading ``!`` is the old negation form (``-s ! 10.0.0.1``)."""
        old_negation = False
        token = self.peek()
        if token is not None and token.is_bang():
            old_negation = True
            self.pos += 1
        if flag in ZERO_ARG_FLAGS:
            return (), old_negation
        values: list[str] = []
        while (token := self.peek()) is not None and not token.is_flag() and not token.is_bang():
            values.append(token.text)
            self.pos += 1
        return tuple(values), old_negation

    def _owner(self, flag: str, first: int = 0, implicit: bool = True) -> str | None:
        """The match that takes ``flag``: the latest loaded one (from index ``first``) that knows it,
        else (``implicit``) the protocol's match that iptables loads on its own for ``-p tcp --dport``."""
        name = FLAG_ALIASES.get(flag, flag)
        for module in reversed(self.modules[first:]):
            known = MODULE_FLAGS.get(module)
            if known is None or flag in known or name in known:
                return module
        proto = self.protocol_module
        if implicit and proto and (flag in MODULE_FLAGS[proto] or name in MODULE_FLAGS[proto]):
            return proto
        return None


def interpret(tokens: list[Token], *, line: int | None = None, file: str | None = None) -> RuleSpec:
    """Typed view of a rule's tokens; raises RulesSyntaxError naming the token and what was expected."""
    return _Interpreter(tokens, line, file).run()


def canonical_spec(tokens: list[Token], *, line: int | None = None, file: str | None = None) -> tuple[str, RuleSpec]:
    """The canonical text and typed view of a rule's tokens, validated once."""
    parsed = interpret(tokens, line=line, file=file)
    return render_spec(parsed), parsed
