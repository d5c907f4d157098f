"""Captions to single-source phrases: the rule-based splitter of the paper's AudioCaps setup.

The caption splitter (:func:`split_caption`) works in three passes over a normalised caption
(NFKC, control characters removed, spaces collapsed and tidied around punctuation):

1. **Candidate cuts.** Every connective is found (case-insensitive; where matches overlap,
   the longest wins):

   - always cut, a sequence: ``, ; :``, sentence ends ``. ! ?``, spaced dashes, ``then``,
     ``and then``;
   - always cut, a clause follows: ``while``, ``whilst``, ``whereas``, ``but``, ``when``,
     ``until``, ``as``, ``as soon as``, ``before``, ``after``, ``after which`` (also after
     ``shortly``, ``soon``, ``right``, ``just``, ``immediately``, ...);
   - always cut, a noun phrase follows: ``followed by`` (``and is followed by``,
     ``followed shortly by``, ...), ``preceded by``, ``along with``, ``together with``,
     ``accompanied by``, ``as well as``, ``alongside``, ``amid(st)``, ``during``,
     ``interspersed with``, ``mixed with``, ``in addition to``;
   - conditional: ``and``, ``with``, ``over`` (below).

   No cut is made inside a protected idiom: ``on and off``, ``back and forth``,
   ``up and down``, ``in and out``, ``to and fro``, ``now and then``, ``loud and clear``,
   ``pots and pans``, ``man and woman``, ``X and X`` (``over and over``, ``louder and
   louder``), ``one after another``, ``such as``, ``as if``, ``as well``, ``as loud as``,
   ``a while``, abbreviations (``e.g.``, ``Mr.``), ...

2. **Conditional cuts.** A word is *verb-ish* if it is a known verb form (about 400 verbs of
   sound and action with their -s/-ed/-ing forms, plus auxiliaries and irregular forms) or an
   -ing word that is not a known noun ("ceiling", "during"), and it does not directly follow a
   determiner ("a whistle", "the ringing" are nouns).

   - ``and`` separates two sources only between two clauses: the text since the last cut
     has a verb-ish word after its first word (or starts with a gerund: "Ticking of a
     clock"); the conjunct after ``and`` (read on over further verb-less ``and`` conjuncts:
     "a dog barks and a man and a woman talk") has a verb-ish word after its first word (a
     subject, then a verb); and that conjunct is not a bare predicate of the same subject
     ("barks and growls", "is typing and clicking"). So "a man and a woman talk", "birds and
     insects chirp" and "plays guitar and drums" stay whole while "a dog barks and a man
     speaks" is split. After a finite verb, a conjunct that starts with an -ing word is a
     noun phrase and is split off ("a man speaks and running water"); after a participle it
     continues the predicate ("speaking and laughing").
   - ``with`` is a cut unless what follows has no verb-ish word and names a manner rather
     than a source ("with a British accent", "with an echo", "with his hands").
   - ``over`` is a cut only if what follows has a verb-ish word or a sound noun ("over
     people talking", "over music"), not for places or media ("flies over a field",
     "speaks over a loudspeaker").

3. **Clean-up.** Leading connective words are stripped ("And then a dog barks" gives "A dog
   barks"); fragments that are only connectives or punctuation are dropped; fragments that
   are only time or place modifiers ("in the background", "repeatedly", "after a while") are
   joined to the previous phrase (to the next one at the start of the caption). After a
   sequence or clause connective, a fragment that starts with a subject pronoun ("as it revs
   up") or is a bare finite predicate ("then stops") continues the previous source and is
   joined to it, as is a bare participle after a sequence connective when the previous
   phrase ends in one ("is idling then accelerating"). Each phrase is stripped of
   surrounding whitespace, punctuation and dangling connectives, and its first letter is
   upper-cased.

Known limits: the rules see words, not syntax. A list of bare nouns before a verb stays one
phrase ("emergency sirens and a horn honking", "wind and birds chirping"), a noun list after
commas is cut ("a man, a woman and a child talk" gives "A man" and "A woman and a child
talk"), unknown verbs hide a clause ("a dog barks and a kettle burbles" stays whole), and a
noun that looks like a bare predicate is joined to the previous phrase ("a man speaks, then
beeps"). :func:`load_phrase_overrides` lets hand-written phrases replace the rules where it
matters.
"""

import re
import unicodedata
from typing import List, NamedTuple, Optional, Sequence, Tuple

__all__ = ["split_caption", "tidy_caption"]


# ---------------------------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------------------------

# Base forms of verbs that AudioCaps captions use for sources; -s/-ed/-ing forms are derived.
_VERB_BASES = """
    accelerate alarm announce answer applaud approach argue arrive ask babble bang bark bawl bay
    beat beep begin belch bellow blare blast bleat bleep blend blip blow boil bong boo boom bounce
    bow brake bray breathe broadcast brush bubble build bump burn burp burst buzz cackle call
    carry caw chant charge chat chatter cheer chew chime chip chirp chirr chirrup chop chortle
    chug chuckle circle clack clang clank clap clatter click climb clink clip clomp clop close
    cluck clunk collide communicate converse coo cough count crack crackle crank crash crawl creak
    croak crow cruise crumble crumple crunch crush cry cut dial dig ding dive drag drain drill
    drink drip drive drizzle drone drop drum echo emit end erupt explode fade fall fart fill
    fire fizz flap flick flicker flip flow flush flutter fly fold fry gallop gargle gasp giggle
    gnaw go gobble grate grind groan growl grunt gulp gurgle gush hammer hiccup hiss hit holler
    honk hoot hop hover howl hum idle ignite increase jabber jangle jeer jiggle jingle jog jump
    kick knock land laugh launch leak lecture lick march meow mew mix moan moo mop mow mumble
    munch murmur mutter narrate neigh oink open operate paddle pant pass pat patter peal peck peep
    perform ping play plop pluck pound pour pray preach print puff pull pump punch purr push putt
    putter quack race rain rake ramble rap rasp rattle read recite record reply resonate respond
    rev reverberate ride ring rinse rip rise roar roll rub rumble run rush rustle say
    scamper scrape scratch scream screech scribble scrub scuff scurry sew shake shatter shift shoot
    shout shovel shred shriek shuffle shut sigh simmer sing sip sizzle skate skid slam slap slide
    slosh slurp smack smash snap snarl sneeze snicker sniff sniffle snore snort sob speak speed spin
    spit splash splatter spray sprinkle sprint sputter squawk squeak squeal squeeze squirt squish
    stall stamp start steam step stir stomp stop stream strike strum stutter swallow sway sweep
    swim swing swirl swish swoosh talk tap taxi tear thud thump thunder tick tinkle tiptoe toll
    toot toss trickle trill trot tumble turn tweet twirl twitter type vacuum vibrate vocalize
    vroom wail walk warble wash weep wheeze whimper whine whinny whip whir whirl whirr whisk whisper
    whistle whiz whizz whoop whoosh wipe wobble work yap yawn yell yelp yip yodel zip zoom
"""

# Irregular and auxiliary forms that head a clause.
_FINITE_EXTRA = """
    is are was were be been being am has have had do does did can could will would may might
    must shall should gets get got keeps keep kept continues continue seems seem seemed appears
    appear appeared ran rang sang blew flew went goes came comes fell falls spoke said says
    made makes took takes began begins drove broke struck shook tore threw rose drew dug hung
    sped spun swept rode fought bit led stood sat slid heard hears hear seen uses use used using
    holds hold held holding produces produce produced producing creates create created creating
    gives give gave giving tries try tried trying sits sitting stands standing waits waiting
    baa baas baaing
"""

# -ing words that are nouns or prepositions, never the verb of a clause.
_ING_NOUNS = frozenset("""
    anything building ceiling clothing darling during everything evening herring king
    lightning morning nothing pudding railing ring sibling something spring string swing
    thing wedding wing awning bring ding ping sing sting wring
    """.split())

# Words after which a verb-looking word is a noun ("a whistle", "the ringing").
_DETERMINERS = frozenset("""
    a an the this that these those some any another each every his her its their my your our
    several many multiple few numerous various two three four five six seven eight nine ten
    """.split())

# Subjects that refer back to a source already named ("as it revs up", "then he laughs").
_SUBJECT_PRONOUNS = frozenset({"he", "she", "it", "they"})

# Words that only connect; stripped at the edges of a phrase.
_LEADING_CONNECTIVES = frozenset("""
    and then or but so also while whilst whereas as with after before followed preceded
    proceeded by when until meanwhile along together accompanied during amid amidst alongside
    """.split())
_TRAILING_CONNECTIVES = frozenset("and then or but so while whilst whereas as with".split())

# A fragment made only of these words is a time/place modifier, not a source.
_FILLER_WORDS = frozenset("""
    a an the in on off at of and then also too very still again once twice thrice several
    multiple many few some one two three four five times time while moment moments pause
    pauses second seconds short brief long little bit background foreground distance distant
    nearby far away close closely repeatedly continuously constantly intermittently
    periodically occasionally sporadically rhythmically loudly quietly softly faintly briefly
    rapidly quickly slowly gradually suddenly momentarily later afterwards afterward soon
    shortly throughout end beginning start same simultaneously silence each other more
    """.split())

# Nouns after "with" that describe how something sounds, not another source.
_MANNER_NOUNS = frozenset("""
    accent accents echo echoes reverb reverberation pitch tone tones voice voices emphasis
    enthusiasm excitement emotion urgency intensity force effort difficulty ease distortion
    rhythm rhythms volume speed frequency pattern lisp authority
    """.split())
_POSSESSIVES = frozenset("his her its their my your our".split())

# Nouns after "over" that are sources ("over music"), unlike places ("over a field").
_SOUND_NOUNS = frozenset("""
    noise noises music static hum rain wind speech chatter applause laughter thunder traffic
    crowd crowds beeps sirens siren engine engines waves water birds dogs people voices
    machinery machine machines
    """.split())


def _verb_forms(bases: str) -> frozenset:
    """Base, -s, -ed and -ing forms (spelling rules are approximated; extras are harmless)."""
    forms = set()
    for base in bases.split():
        forms.add(base)
        if base.endswith(("s", "sh", "ch", "x", "z")):
            forms.add(base + "es")
        elif base.endswith("y") and base[-2:-1] not in "aeiou":
            forms.update({base[:-1] + "ies", base[:-1] + "ied"})
        else:
            forms.add(base + "s")
        stem = base[:-1] if base.endswith("e") and not base.endswith("ee") else base
        forms.update({stem + "ing", stem + "ed", base + "d" if base.endswith("e") else ""})
        # Consonant doubling ("running", "tapped"); wrong doublings never match real words.
        forms.update({base + base[-1] + "ing", base + base[-1] + "ed"})
    forms.discard("")
    return frozenset(forms)


_VERBS = _verb_forms(_VERB_BASES) | frozenset(_FINITE_EXTRA.split())

# ---------------------------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------------------------

_F = re.IGNORECASE
_PRE = r"(?:\s*,)?\s+"  # an optional comma, then a space, before a connective word

# (kind, regex). Always cut: "seq" (a sequence: punctuation, "then"), "clause" (a clause
# follows), "noun" (a noun phrase follows). Conditional: "and", "with", "over".
_CONNECTIVES: List[Tuple[str, "re.Pattern[str]"]] = [
    ("seq", re.compile(r"\s*(?:;|[,:](?!\d))\s*(?:(?:and|but|so)\s+)?(?:then\s+)?", _F)),
    ("seq", re.compile(r"\s*[.!?]+(?:\s+|$)", _F)),
    ("seq", re.compile(r"\s+[-\u2013\u2014]+\s+", _F)),
    ("seq", re.compile(_PRE + r"(?:and\s+)?then\s+", _F)),
    (
        "clause",
        re.compile(_PRE + r"(?:and\s+)?(?:while|whilst|whereas|but|when|until|as soon as)\s+", _F),
    ),
    ("clause", re.compile(_PRE + r"(?:and\s+)?as\s+", _F)),
    (
        "clause",
        re.compile(
            _PRE + r"(?:and\s+)?(?:(?:shortly|soon|right|just|immediately|briefly|quickly|then)"
            r"\s+)?(?:before|after)(?:\s+which)?\s+",
            _F,
        ),
    ),
    (
        "noun",
        re.compile(
            _PRE + r"(?:and\s+)?(?:(?:is|are|was|were|then|being)\s+)?"
            r"(?:followed|preceded|proceeded)\s+(?:(?:\w+ly|soon)\s+)?(?:by|with)\s+",
            _F,
        ),
    ),
    (
        "noun",
        re.compile(
            _PRE + r"(?:and\s+)?(?:along with|together with|accompanied by|as well as|"
            r"alongside|amid|amidst|during|interspersed with|mixed with|in addition to)\s+",
            _F,
        ),
    ),
    ("and", re.compile(r"\s+and\s+", _F)),
    ("with", re.compile(_PRE + r"with\s+", _F)),
    ("over", re.compile(_PRE + r"over\s+", _F)),
]

# Spans in which no cut is made.
_PROTECTED = re.compile(
    r"\b(?:"
    r"on and off|off and on|back and forth|forth and back|up and down|down and up|"
    r"in and out|out and in|to and fro|here and there|now and then|now and again|"
    r"loud and clear|rock and roll|pots and pans|bread and butter|ladies and gentlemen|"
    r"salt and pepper|trial and error|rise and fall|stop and go|stops and starts|"
    r"hit and miss|hide and seek|cat and mouse|clanking and clunking|"
    r"(?:a )?(?:man and (?:a )?woman|woman and (?:a )?man)|men and women|women and men|"
    r"boys? and girls?|girls? and boys?|male and female|female and male|"
    r"(\w+) and \1|one after (?:another|the other)|after each other|"
    r"(?:e\.g|i\.e|etc|mr|mrs|ms|dr|st|vs)\.|"  # abbreviations, not sentence ends
    r"such as|as if|as though|as well(?! as)|as (?!(?:soon|well|long)\b)\w+ as|a while"
    r")(?!\w)",
    _F,
)

# Longest run of verb-less "and" conjuncts looked through ("a man, a woman and a child talk").
_MAX_CHAIN = 6

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_EDGE_PUNCT = " \t.,;:!?-\u2013\u2014"


class _Cut(NamedTuple):
    start: int
    end: int
    kind: str


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Unicode-normalise, drop control/format characters and tidy spaces around punctuation."""
    chars = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc" or ch.isspace():
            chars.append(" ")  # tabs and newlines separate words
        elif not cat.startswith("C"):  # zero-width, private-use and lone surrogate characters
            chars.append(ch)
    text = unicodedata.normalize("NFKC", "".join(chars))
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)  # "barks , a man" -> "barks, a man"
    text = re.sub(r"(?<=[^\W\d_]{2})([.!?])(?=[^\W\d_]{2})", r"\1 ", text)  # "barks.A man"
    return re.sub(r"([,;:])(?=[^\W\d_])", r"\1 ", text)  # "barks,a man" -> "barks, a man"


def _words(text: str) -> List[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _is_verb(words: Sequence[str], i: int) -> bool:
    word = words[i]
    if i > 0 and words[i - 1] in _DETERMINERS:
        return False
    if word in _VERBS:
        return True
    return len(word) >= 5 and word.endswith("ing") and word not in _ING_NOUNS


def _verb_positions(text: str) -> List[int]:
    words = _words(text)
    return [i for i in range(len(words)) if _is_verb(words, i)]


def _last_verb(text: str) -> str:
    words, verbs = _words(text), _verb_positions(text)
    return words[verbs[-1]] if verbs else ""


def _has_clause(text: str) -> bool:
    """A verb-ish word after the first word, i.e. a subject then a verb."""
    return any(i >= 1 for i in _verb_positions(text))


def _is_bare_predicate(text: str, finite_only: bool) -> bool:
    """Starts with a verb and names no new subject ("growls loudly", "then stops")."""
    first_conjunct = re.split(r"\s+and\s+", text, maxsplit=1, flags=_F)[0]
    words = _words(first_conjunct)
    verbs = _verb_positions(first_conjunct)
    if not verbs or verbs[0] != 0 or len(verbs) > 1:
        return False
    return not (finite_only and words[0].endswith("ing"))


def _strip_leading_connectives(text: str) -> str:
    while True:
        match = _WORD.match(text)
        if match is None or match.group(0).lower() not in _LEADING_CONNECTIVES:
            return text
        text = text[match.end() :].lstrip(_EDGE_PUNCT)


def _strip_trailing_connectives(text: str) -> str:
    while True:
        if re.search(r"\ba while$", text, _F):
            return text  # "after a while" ends in a noun, not a connective
        if re.search(r"\bfollowed by$", text, _F):
            text = text[: -len("followed by")]
        else:
            words = _WORD.findall(text)
            if not words or words[-1].lower() not in _TRAILING_CONNECTIVES:
                return text
            text = text[: text.lower().rfind(words[-1].lower())]
        text = text.rstrip(_EDGE_PUNCT)


def _clean_phrase(text: str, strip_leading: bool = True) -> str:
    """Strip edge punctuation and connectives, upper-case the first letter; "" if no word."""
    text = text.strip(_EDGE_PUNCT)
    if strip_leading:
        text = _strip_leading_connectives(text)
    text = _strip_trailing_connectives(text).strip(_EDGE_PUNCT)
    if not any(ch.isalnum() for ch in text):
        return ""
    return _upper_first(text)


def _upper_first(text: str) -> str:
    first = text[0].upper()
    return (first if len(first) == 1 else text[0]) + text[1:]  # "ß".upper() is "SS"


def _find_cuts(text: str) -> List[_Cut]:
    """All connective matches outside protected idioms, longest first where they overlap."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]
    found = []
    for kind, pattern in _CONNECTIVES:
        for m in pattern.finditer(text):
            if m.end() > m.start():
                found.append(_Cut(m.start(), m.end(), kind))
    found.sort(key=lambda c: (c.start, c.start - c.end))
    cuts: List[_Cut] = []
    for cut in found:
        if cuts and cut.start < cuts[-1].end:
            continue  # overlaps a longer or earlier connective
        # Whitespace at the edges of a match may touch an idiom without being part of it.
        match = text[cut.start : cut.end]
        core = (
            cut.start + len(match) - len(match.lstrip()),
            cut.end - len(match) + len(match.rstrip()),
        )
        if any(core[0] < p_end and p_start < core[1] for p_start, p_end in protected):
            continue
        cuts.append(cut)
    return cuts


def _keep_and(left: str, right_local: str, right_chain: str) -> bool:
    """Whether " and " between ``left`` and ``right_local`` separates two sources."""
    left_verbs = _verb_positions(left)
    left_words = _words(left)
    # A first word is a noun ("Rain and thunder") unless it is a gerund ("Ticking of a clock").
    if not any(i >= 1 or left_words[0].endswith("ing") for i in left_verbs):
        return False  # "a man and a woman talk": a compound subject
    right_words = _words(right_local)
    if right_words and right_words[0].endswith("ing") and 0 in _verb_positions(right_local):
        # After a finite verb an -ing word starts a noun phrase ("and running water"); after
        # a participle it continues the predicate ("speaking and laughing").
        return not left_words[left_verbs[-1]].endswith("ing")
    if _is_bare_predicate(right_local, finite_only=False):
        return False  # "barks and growls": same subject
    return _has_clause(right_chain)


def _keep_with(right_local: str) -> bool:
    if _has_clause(right_local) or 0 in _verb_positions(right_local):
        return True
    words = _words(right_local)
    return not (words and (words[0] in _POSSESSIVES or _MANNER_NOUNS.intersection(words)))


def _keep_over(right_local: str) -> bool:
    return bool(_verb_positions(right_local)) or bool(
        _SOUND_NOUNS.intersection(_words(right_local))
    )


def _choose_cuts(text: str, cuts: List[_Cut]) -> List[_Cut]:
    """Keep the unconditional cuts and the conditional ones that pass their rule."""
    chosen: List[_Cut] = []
    for i, cut in enumerate(cuts):
        if cut.kind in ("seq", "clause", "noun"):
            chosen.append(cut)
            continue
        # Look back at most _MAX_CHAIN connectives: keeps long lists of "and"s fast.
        seg_start = max(
            chosen[-1].end if chosen else 0, cuts[i - _MAX_CHAIN].end if i >= _MAX_CHAIN else 0
        )
        left = text[seg_start : cut.start]
        next_start = cuts[i + 1].start if i + 1 < len(cuts) else len(text)
        right_local = text[cut.end : next_start]
        if cut.kind == "and":
            # Extend over verb-less "and" conjuncts: "and a man and a woman talk".
            # At most _MAX_CHAIN conjuncts: keeps long lists of "and"s linear in time.
            j, right_chain = i, right_local
            while not _verb_positions(right_chain) and j + 1 < min(len(cuts), i + _MAX_CHAIN):
                if cuts[j + 1].kind != "and":
                    break
                j += 1
                end = cuts[j + 1].start if j + 1 < len(cuts) else len(text)
                right_chain = text[cut.end : end]
            keep = _keep_and(left, right_local, right_chain)
        elif cut.kind == "with":
            keep = _keep_with(right_local)
        else:
            keep = _keep_over(right_local)
        if keep:
            chosen.append(cut)
    return chosen


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def split_caption(caption: str) -> List[str]:
    """Split an AudioCaps-style caption into single-source phrases.

    The rules (connectives, idioms, the ``and``/``with``/``over`` tests and the clean-up) are
    described in the module docstring. Odd text never raises: an empty, blank or
    punctuation-only caption gives ``[]``.

    Args:
        caption: One caption, e.g. ``"A dog barks while a man speaks."``.

    Returns:
        The phrases in caption order, each stripped of surrounding whitespace and punctuation
        and with its first letter upper-cased (the rest is left as written).

    Raises:
        TypeError: If ``caption`` is not a string.

    Examples:
        >>> caption = "A man talks while wood clanks on a metal pan, followed by gravel crunching"
        >>> split_caption(caption)
        ['A man talks', 'Wood clanks on a metal pan', 'Gravel crunching']
        >>> split_caption("a dog barks and a man and a woman talk.")
        ['A dog barks', 'A man and a woman talk']
        >>> split_caption("Water turns on and off")
        ['Water turns on and off']
        >>> split_caption("  ... ")
        []
    """
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a str, got {type(caption).__name__}")
    text = _normalise(caption)
    if not text:
        return []
    cuts = _choose_cuts(text, _find_cuts(text))

    # Fragments between chosen cuts, with the kind of the cut before each one.
    bounds = [0] + [p for c in cuts for p in (c.start, c.end)] + [len(text)]
    kinds = ["start"] + [c.kind for c in cuts]
    spans: List[List] = []  # [start, end, strip leading connectives?] of each phrase
    pending_start: Optional[int] = None  # a leading modifier waiting for its phrase
    for k, kind in enumerate(kinds):
        start, end = bounds[2 * k], bounds[2 * k + 1]
        core = _strip_leading_connectives(text[start:end].strip(_EDGE_PUNCT))
        if not any(ch.isalnum() for ch in core):
            continue  # only connectives or punctuation
        words = _words(core)
        first = words[0] if words else ""
        if words and all(w in _FILLER_WORDS for w in words):
            if spans:
                spans[-1][1] = end  # "..., in the background" belongs to the previous source
            elif pending_start is None:
                pending_start = start
            continue
        continues_previous = bool(spans) and (
            kind in ("seq", "clause", "and")
            and (first in _SUBJECT_PRONOUNS or _is_bare_predicate(core, True))
            # "is idling then accelerating": parallel participles of one source.
            or kind == "seq"
            and _is_bare_predicate(core, finite_only=False)
            and _last_verb(text[spans[-1][0] : spans[-1][1]]).endswith("ing")
        )
        if continues_previous:
            spans[-1][1] = end
        elif pending_start is not None:
            # Keep "After a while, a dog barks" whole, its first word included.
            spans.append([pending_start, end, False])
            pending_start = None
        else:
            spans.append([start, end, True])
    if pending_start is not None:
        spans.append([pending_start, len(text), False])  # only modifiers: keep them as written

    phrases = []
    for start, end, strip_leading in spans:
        phrase = _clean_phrase(text[start:end], strip_leading)
        if phrase:
            phrases.append(phrase)
    return phrases


def tidy_caption(caption: str) -> Optional[str]:
    """The caption as one phrase: normalised, edge punctuation stripped, first letter
    upper-cased; None when no letter or digit is left.

    Examples:
        >>> tidy_caption("  and then. ")
        'And then'
        >>> tidy_caption("...") is None
        True
    """
    text = _normalise(caption).strip(_EDGE_PUNCT)
    if not any(ch.isalnum() for ch in text):
        return None
    return _upper_first(text)
