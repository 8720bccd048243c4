# The corpus of reasoning_bench: small functions from the CPython modules the benches ship, each with one injected fault and a runnable check (see SOURCES.md).
#
# Each case is a dict:
#   name     a short unique name (module.function)
#   origin   the shipped file and function it is taken from
#   kind     the fault kind (the names of benches/src/faults.rs)
#   prelude  imports or helpers the function needs; put in the document above the function but
#            outside the selection, so the chain rewrites the function only
#   correct  the function (or small class) as shipped, multi-line docstrings dropped
#   bug      (old, new): the buggy version is `correct` with the one occurrence of `old` replaced
#            by `new`; writing the fault as a replacement keeps it to exactly one change
#   check    assert statements that pass on `correct` and fail on the buggy version
#
# Running this file prints the cases as JSON (with `buggy` filled in) on stdout; that is how
# reasoning_bench reads them, so the corpus stays plain Python that is easy to review and edit.
# The bench itself re-runs every check against both versions before using a case.

import json
import sys

CASES = [
    # ---- edit_replay/bisect.py ----
    dict(
        name="bisect.insort_right",
        origin="edit_replay/bisect.py: insort_right",
        kind="wrong_variable",
        prelude="from bisect import bisect_right\n",
        correct='''def insort_right(a, x, lo=0, hi=None, *, key=None):
    """Insert item x in list a, and keep it sorted assuming a is sorted."""
    if key is None:
        lo = bisect_right(a, x, lo, hi)
    else:
        lo = bisect_right(a, key(x), lo, hi, key=key)
    a.insert(lo, x)
''',
        bug=("a.insert(lo, x)", "a.insert(hi, x)"),
        check='''a = [1, 2, 4, 5]
insort_right(a, 3)
assert a == [1, 2, 3, 4, 5], a
b = [(1, "a"), (3, "c")]
insort_right(b, (2, "b"), key=lambda t: t[0])
assert b == [(1, "a"), (2, "b"), (3, "c")], b
''',
    ),
    dict(
        name="bisect.bisect_right",
        origin="edit_replay/bisect.py: bisect_right",
        kind="swapped_operator",
        prelude="",
        correct='''def bisect_right(a, x, lo=0, hi=None, *, key=None):
    """Return the index where to insert item x in list a, assuming a is sorted."""
    if lo < 0:
        raise ValueError('lo must be non-negative')
    if hi is None:
        hi = len(a)
    if key is None:
        while lo < hi:
            mid = (lo + hi) // 2
            if x < a[mid]:
                hi = mid
            else:
                lo = mid + 1
    else:
        while lo < hi:
            mid = (lo + hi) // 2
            if x < key(a[mid]):
                hi = mid
            else:
                lo = mid + 1
    return lo
''',
        bug=("            if x < a[mid]:", "            if x > a[mid]:"),
        check='''assert bisect_right([1, 2, 2, 3, 5], 2) == 3
assert bisect_right([1, 2, 3, 4, 5, 6, 7], 6) == 6
assert bisect_right([], 1) == 0
assert bisect_right([(1, 'x'), (4, 'y')], 3, key=lambda t: t[0]) == 1
''',
    ),
    dict(
        name="bisect.insort_left",
        origin="edit_replay/bisect.py: insort_left",
        kind="misspelled_keyword",
        prelude="from bisect import bisect_left\n",
        correct='''def insort_left(a, x, lo=0, hi=None, *, key=None):
    """Insert item x in list a, and keep it sorted assuming a is sorted."""
    if key is None:
        lo = bisect_left(a, x, lo, hi)
    else:
        lo = bisect_left(a, key(x), lo, hi, key=key)
    a.insert(lo, x)
''',
        bug=("    else:", "    esle:"),
        check='''a = [1, 2, 4]
insort_left(a, 3)
assert a == [1, 2, 3, 4], a
b = [(1, "a"), (3, "c")]
insort_left(b, (3, "b"), key=lambda t: t[0])
assert b == [(1, "a"), (3, "b"), (3, "c")], b
''',
    ),
    dict(
        name="bisect.bisect_left",
        origin="edit_replay/bisect.py: bisect_left",
        kind="off_by_one",
        prelude="",
        correct='''def bisect_left(a, x, lo=0, hi=None, *, key=None):
    """Return the index where to insert item x in list a, assuming a is sorted."""
    if lo < 0:
        raise ValueError('lo must be non-negative')
    if hi is None:
        hi = len(a)
    if key is None:
        while lo < hi:
            mid = (lo + hi) // 2
            if a[mid] < x:
                lo = mid + 1
            else:
                hi = mid
    else:
        while lo < hi:
            mid = (lo + hi) // 2
            if key(a[mid]) < x:
                lo = mid + 1
            else:
                hi = mid
    return lo
''',
        bug=("            if a[mid] < x:\n                lo = mid + 1",
             "            if a[mid] < x:\n                lo = mid + 2"),
        check='''assert bisect_left([1, 2, 3, 4, 5], 4) == 3
assert bisect_left([1, 2, 2, 3], 2) == 1
assert bisect_left([], 1) == 0
assert bisect_left([(1, 'x'), (4, 'y')], 4, key=lambda t: t[0]) == 1
''',
    ),
    # ---- edit_replay/heapq.py ----
    dict(
        name="heapq.heappush",
        origin="edit_replay/heapq.py: heappush",
        kind="off_by_one",
        prelude="from heapq import _siftdown\n",
        correct='''def heappush(heap, item):
    """Push item onto heap, maintaining the heap invariant."""
    heap.append(item)
    _siftdown(heap, 0, len(heap)-1)
''',
        bug=("len(heap)-1)", "len(heap)-2)"),
        check='''h = []
for v in [5, 3, 8, 1, 9, 2]:
    heappush(h, v)
assert h[0] == 1, h
assert all(h[i] <= h[c] for i in range(len(h)) for c in (2*i+1, 2*i+2) if c < len(h)), h
''',
    ),
    dict(
        name="heapq.heappop",
        origin="edit_replay/heapq.py: heappop",
        kind="wrong_variable",
        prelude="from heapq import _siftup\n",
        correct='''def heappop(heap):
    """Pop the smallest item off the heap, maintaining the heap invariant."""
    lastelt = heap.pop()    # raises appropriate IndexError if heap is empty
    if heap:
        returnitem = heap[0]
        heap[0] = lastelt
        _siftup(heap, 0)
        return returnitem
    return lastelt
''',
        bug=("        return returnitem", "        return lastelt"),
        check='''import heapq
h = [4, 1, 7, 3, 8, 5]
heapq.heapify(h)
assert [heappop(h) for _ in range(6)] == [1, 3, 4, 5, 7, 8]
''',
    ),
    dict(
        name="heapq.heapreplace",
        origin="edit_replay/heapq.py: heapreplace",
        kind="misspelled_identifier",
        prelude="from heapq import _siftup\n",
        correct='''def heapreplace(heap, item):
    """Pop and return the current smallest value, and add the new item."""
    returnitem = heap[0]    # raises appropriate IndexError if heap is empty
    heap[0] = item
    _siftup(heap, 0)
    return returnitem
''',
        bug=("    return returnitem", "    return retrunitem"),
        check='''h = [1, 3, 2]
assert heapreplace(h, 5) == 1
assert sorted(h) == [2, 3, 5] and h[0] == 2, h
''',
    ),
    dict(
        name="heapq.heappushpop",
        origin="edit_replay/heapq.py: heappushpop",
        kind="swapped_operator",
        prelude="from heapq import _siftup\n",
        correct='''def heappushpop(heap, item):
    """Fast version of a heappush followed by a heappop."""
    if heap and heap[0] < item:
        item, heap[0] = heap[0], item
        _siftup(heap, 0)
    return item
''',
        bug=("heap[0] < item:", "heap[0] > item:"),
        check='''h = [1, 3, 2]
assert heappushpop(h, 5) == 1 and h[0] == 2, h
h = [1, 3, 2]
assert heappushpop(h, 0) == 0 and h == [1, 3, 2], h
''',
    ),
    dict(
        name="heapq.heapify",
        origin="edit_replay/heapq.py: heapify",
        kind="off_by_one",
        prelude="from heapq import _siftup\n",
        correct='''def heapify(x):
    """Transform list into a heap, in-place, in O(len(x)) time."""
    n = len(x)
    for i in reversed(range(n//2)):
        _siftup(x, i)
''',
        bug=("range(n//2)", "range(n//2 - 1)"),
        check='''for data in ([9, 8, 7, 6, 5, 4, 3, 2, 1], [3, 1, 2], [5, 4, 3, 2, 1, 0]):
    h = list(data)
    heapify(h)
    assert all(h[i] <= h[c] for i in range(len(h)) for c in (2*i+1, 2*i+2) if c < len(h)), h
''',
    ),
    dict(
        name="heapq._siftdown",
        origin="edit_replay/heapq.py: _siftdown",
        kind="swapped_operator",
        prelude="",
        correct='''def _siftdown(heap, startpos, pos):
    newitem = heap[pos]
    # Follow the path to the root, moving parents down until finding a place
    # newitem fits.
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        parent = heap[parentpos]
        if newitem < parent:
            heap[pos] = parent
            pos = parentpos
            continue
        break
    heap[pos] = newitem
''',
        bug=("if newitem < parent:", "if newitem > parent:"),
        check='''h = [1, 3, 5, 7, 0]
_siftdown(h, 0, 4)
assert h[0] == 0 and h[1] == 1 and h[4] == 3, h
''',
    ),
    dict(
        name="heapq._siftup",
        origin="edit_replay/heapq.py: _siftup",
        kind="off_by_one",
        prelude="from heapq import _siftdown\n",
        correct='''def _siftup(heap, pos):
    endpos = len(heap)
    startpos = pos
    newitem = heap[pos]
    # Bubble up the smaller child until hitting a leaf.
    childpos = 2*pos + 1    # leftmost child position
    while childpos < endpos:
        # Set childpos to index of smaller child.
        rightpos = childpos + 1
        if rightpos < endpos and not heap[childpos] < heap[rightpos]:
            childpos = rightpos
        # Move the smaller child up.
        heap[pos] = heap[childpos]
        pos = childpos
        childpos = 2*pos + 1
    # The leaf at pos is empty now.  Put newitem there, and bubble it up
    # to its final resting place (by sifting its parents down).
    heap[pos] = newitem
    _siftdown(heap, startpos, pos)
''',
        bug=("        childpos = 2*pos + 1\n", "        childpos = 2*pos + 2\n"),
        check='''h = [9, 1, 2, 3, 4, 5, 6]
_siftup(h, 0)
assert all(h[i] <= h[c] for i in range(len(h)) for c in (2*i+1, 2*i+2) if c < len(h)), h
''',
    ),
    dict(
        name="heapq._heappop_max",
        origin="edit_replay/heapq.py: _heappop_max",
        kind="misspelled_keyword",
        prelude="from heapq import _siftup_max\n",
        correct='''def _heappop_max(heap):
    """Maxheap version of a heappop."""
    lastelt = heap.pop()    # raises appropriate IndexError if heap is empty
    if heap:
        returnitem = heap[0]
        heap[0] = lastelt
        _siftup_max(heap, 0)
        return returnitem
    return lastelt
''',
        bug=("        return returnitem", "        retrun returnitem"),
        check='''h = [9, 5, 8, 1, 2]
assert [_heappop_max(h) for _ in range(5)] == [9, 8, 5, 2, 1]
''',
    ),
    dict(
        name="heapq._heapify_max",
        origin="edit_replay/heapq.py: _heapify_max",
        kind="wrong_variable",
        prelude="from heapq import _siftup_max\n",
        correct='''def _heapify_max(x):
    """Transform list into a maxheap, in-place, in O(len(x)) time."""
    n = len(x)
    for i in reversed(range(n//2)):
        _siftup_max(x, i)
''',
        bug=("_siftup_max(x, i)", "_siftup_max(x, n)"),
        check='''h = [1, 2, 3, 4, 5, 6, 7]
_heapify_max(h)
assert all(h[i] >= h[c] for i in range(len(h)) for c in (2*i+1, 2*i+2) if c < len(h)), h
''',
    ),
    dict(
        name="heapq._siftdown_max",
        origin="edit_replay/heapq.py: _siftdown_max",
        kind="wrong_variable",
        prelude="",
        correct='''def _siftdown_max(heap, startpos, pos):
    'Maxheap variant of _siftdown'
    newitem = heap[pos]
    # Follow the path to the root, moving parents down until finding a place
    # newitem fits.
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        parent = heap[parentpos]
        if parent < newitem:
            heap[pos] = parent
            pos = parentpos
            continue
        break
    heap[pos] = newitem
''',
        bug=("            pos = parentpos\n", "            pos = startpos\n"),
        check='''h = [9, 7, 8, 1, 2, 3, 4, 10]
_siftdown_max(h, 0, 7)
assert h[0] == 10 and h[1] == 9 and h[3] == 7 and h[7] == 1, h
''',
    ),
    dict(
        name="heapq._siftup_max",
        origin="edit_replay/heapq.py: _siftup_max",
        kind="swapped_operator",
        prelude="from heapq import _siftdown_max\n",
        correct='''def _siftup_max(heap, pos):
    'Maxheap variant of _siftup'
    endpos = len(heap)
    startpos = pos
    newitem = heap[pos]
    # Bubble up the larger child until hitting a leaf.
    childpos = 2*pos + 1    # leftmost child position
    while childpos < endpos:
        # Set childpos to index of larger child.
        rightpos = childpos + 1
        if rightpos < endpos and not heap[rightpos] < heap[childpos]:
            childpos = rightpos
        # Move the larger child up.
        heap[pos] = heap[childpos]
        pos = childpos
        childpos = 2*pos + 1
    # The leaf at pos is empty now.  Put newitem there, and bubble it up
    # to its final resting place (by sifting its parents down).
    heap[pos] = newitem
    _siftdown_max(heap, startpos, pos)
''',
        bug=("not heap[rightpos] < heap[childpos]", "not heap[rightpos] > heap[childpos]"),
        check='''h = [0, 5, 9, 1, 2, 3, 4]
_siftup_max(h, 0)
assert all(h[i] >= h[c] for i in range(len(h)) for c in (2*i+1, 2*i+2) if c < len(h)), h
''',
    ),
    # ---- edit_replay/functools.py ----
    dict(
        name="functools._gt_from_lt",
        origin="edit_replay/functools.py: _gt_from_lt",
        kind="swapped_operator",
        prelude="",
        correct='''def _gt_from_lt(self, other):
    'Return a > b.  Computed by @total_ordering from (not a < b) and (a != b).'
    op_result = type(self).__lt__(self, other)
    if op_result is NotImplemented:
        return op_result
    return not op_result and self != other
''',
        bug=("self != other", "self == other"),
        check='''assert _gt_from_lt(3, 2) is True
assert _gt_from_lt(2, 2) is False
assert _gt_from_lt(1, 2) is False
''',
    ),
    dict(
        name="functools._le_from_lt",
        origin="edit_replay/functools.py: _le_from_lt",
        kind="swapped_operator",
        prelude="",
        correct='''def _le_from_lt(self, other):
    'Return a <= b.  Computed by @total_ordering from (a < b) or (a == b).'
    op_result = type(self).__lt__(self, other)
    if op_result is NotImplemented:
        return op_result
    return op_result or self == other
''',
        bug=("op_result or self", "op_result and self"),
        check='''assert _le_from_lt(1, 2) is True
assert _le_from_lt(2, 2) is True
assert _le_from_lt(3, 2) is False
''',
    ),
    dict(
        name="functools._ge_from_le",
        origin="edit_replay/functools.py: _ge_from_le",
        kind="misspelled_keyword",
        prelude="",
        correct='''def _ge_from_le(self, other):
    'Return a >= b.  Computed by @total_ordering from (not a <= b) or (a == b).'
    op_result = type(self).__le__(self, other)
    if op_result is NotImplemented:
        return op_result
    return not op_result or self == other
''',
        bug=("    if op_result is NotImplemented:", "    fi op_result is NotImplemented:"),
        check='''assert _ge_from_le(3, 2) is True
assert _ge_from_le(2, 2) is True
assert _ge_from_le(1, 2) is False
''',
    ),
    dict(
        name="functools._lt_from_gt",
        origin="edit_replay/functools.py: _lt_from_gt",
        kind="misspelled_identifier",
        prelude="",
        correct='''def _lt_from_gt(self, other):
    'Return a < b.  Computed by @total_ordering from (not a > b) and (a != b).'
    op_result = type(self).__gt__(self, other)
    if op_result is NotImplemented:
        return op_result
    return not op_result and self != other
''',
        bug=("    return not op_result and", "    return not op_reslut and"),
        check='''assert _lt_from_gt(1, 2) is True
assert _lt_from_gt(2, 2) is False
assert _lt_from_gt(3, 2) is False
''',
    ),
    dict(
        name="functools._le_from_ge",
        origin="edit_replay/functools.py: _le_from_ge",
        kind="wrong_variable",
        prelude="",
        correct='''def _le_from_ge(self, other):
    'Return a <= b.  Computed by @total_ordering from (not a >= b) or (a == b).'
    op_result = type(self).__ge__(self, other)
    if op_result is NotImplemented:
        return op_result
    return not op_result or self == other
''',
        bug=("type(self).__ge__(self, other)", "type(self).__ge__(other, self)"),
        check='''assert _le_from_ge(1, 2) is True
assert _le_from_ge(2, 2) is True
assert _le_from_ge(3, 2) is False
''',
    ),
    dict(
        name="functools._gt_from_ge",
        origin="edit_replay/functools.py: _gt_from_ge",
        kind="swapped_operator",
        prelude="",
        correct='''def _gt_from_ge(self, other):
    'Return a > b.  Computed by @total_ordering from (a >= b) and (a != b).'
    op_result = type(self).__ge__(self, other)
    if op_result is NotImplemented:
        return op_result
    return op_result and self != other
''',
        bug=("op_result and self", "op_result or self"),
        check='''assert _gt_from_ge(3, 2) is True
assert _gt_from_ge(2, 2) is False
assert _gt_from_ge(1, 2) is False
''',
    ),
    dict(
        name="functools.cmp_to_key",
        origin="edit_replay/functools.py: cmp_to_key",
        kind="swapped_operator",
        prelude="",
        correct='''def cmp_to_key(mycmp):
    """Convert a cmp= function into a key= function"""
    class K(object):
        __slots__ = ['obj']
        def __init__(self, obj):
            self.obj = obj
        def __lt__(self, other):
            return mycmp(self.obj, other.obj) < 0
        def __gt__(self, other):
            return mycmp(self.obj, other.obj) > 0
        def __eq__(self, other):
            return mycmp(self.obj, other.obj) == 0
        def __le__(self, other):
            return mycmp(self.obj, other.obj) <= 0
        def __ge__(self, other):
            return mycmp(self.obj, other.obj) >= 0
        __hash__ = None
    return K
''',
        bug=("mycmp(self.obj, other.obj) < 0", "mycmp(self.obj, other.obj) > 0"),
        check='''key = cmp_to_key(lambda a, b: a - b)
assert sorted([3, 1, 2], key=key) == [1, 2, 3]
assert key(1) < key(2) and key(2) > key(1) and key(2) == key(2)
assert key(1) <= key(1) and key(3) >= key(2)
''',
    ),
    dict(
        name="functools._unwrap_partial",
        origin="edit_replay/functools.py: _unwrap_partial",
        kind="wrong_variable",
        prelude="from functools import partial\n",
        correct='''def _unwrap_partial(func):
    while isinstance(func, partial):
        func = func.func
    return func
''',
        bug=("    while isinstance(func, partial):\n        func = func.func",
             "    while isinstance(func, partial):\n        func = partial.func"),
        check='''def f(a, b):
    return a + b
assert _unwrap_partial(partial(partial(f, 1), 2)) is f
assert _unwrap_partial(f) is f
''',
    ),
    # ---- diagnostics/textwrap.py ----
    dict(
        name="textwrap.shorten",
        origin="diagnostics/textwrap.py: shorten",
        kind="misspelled_identifier",
        prelude="from textwrap import TextWrapper\n",
        correct='''def shorten(text, width, **kwargs):
    """Collapse and truncate the given text to fit in the given width."""
    w = TextWrapper(width=width, max_lines=1, **kwargs)
    return w.fill(' '.join(text.strip().split()))
''',
        bug=("TextWrapper(width=width", "TextWrapper(width=widht"),
        check='''assert shorten("Hello  world!", width=12) == "Hello world!"
assert shorten("Hello  world!", width=11) == "Hello [...]"
''',
    ),
    dict(
        name="textwrap.dedent",
        origin="diagnostics/textwrap.py: dedent (regexes inlined, debugging block dropped)",
        kind="wrong_variable",
        prelude="import re\n",
        correct='''def dedent(text):
    """Remove any common leading whitespace from every line in `text`."""
    margin = None
    text = re.sub('(?m)^[ \\t]+$', '', text)
    indents = re.findall('(?m)(^[ \\t]*)(?:[^ \\t\\n])', text)
    for indent in indents:
        if margin is None:
            margin = indent
        # Current line more deeply indented than previous winner:
        # no change (previous winner is still on top).
        elif indent.startswith(margin):
            pass
        # Current line consistent with and no deeper than previous winner:
        # it's the new winner.
        elif margin.startswith(indent):
            margin = indent
        # Find the largest common whitespace between current line and previous
        # winner.
        else:
            for i, (x, y) in enumerate(zip(margin, indent)):
                if x != y:
                    margin = margin[:i]
                    break
    if margin:
        text = re.sub(r'(?m)^' + margin, '', text)
    return text
''',
        bug=("        elif margin.startswith(indent):\n            margin = indent",
             "        elif margin.startswith(indent):\n            margin = margin"),
        check='''assert dedent("    a\\n      b\\n") == "a\\n  b\\n"
assert dedent("      a\\n    b\\n") == "  a\\nb\\n"
assert dedent("  x\\n\\ty\\n") == "  x\\n\\ty\\n"
''',
    ),
    dict(
        name="textwrap.indent",
        origin="diagnostics/textwrap.py: indent",
        kind="wrong_variable",
        prelude="",
        correct='''def indent(text, prefix, predicate=None):
    """Adds 'prefix' to the beginning of selected lines in 'text'."""
    if predicate is None:
        def predicate(line):
            return line.strip()

    def prefixed_lines():
        for line in text.splitlines(True):
            yield (prefix + line if predicate(line) else line)
    return ''.join(prefixed_lines())
''',
        bug=("yield (prefix + line if predicate(line) else line)",
             "yield (prefix + line if predicate(line) else prefix)"),
        check='''assert indent("a\\n\\nb\\n", "> ") == "> a\\n\\n> b\\n"
assert indent("a\\n\\n", "+", lambda line: True) == "+a\\n+\\n"
''',
    ),
    # ---- diagnostics/shlex.py ----
    dict(
        name="shlex.split",
        origin="diagnostics/shlex.py: split (the deprecation warning for None dropped)",
        kind="misspelled_keyword",
        prelude="from shlex import shlex\n",
        correct='''def split(s, comments=False, posix=True):
    """Split the string *s* using shell-like syntax."""
    lex = shlex(s, posix=posix)
    lex.whitespace_split = True
    if not comments:
        lex.commenters = ''
    return list(lex)
''',
        bug=("    if not comments:", "    if nto comments:"),
        check='''assert split("a 'b c' d") == ['a', 'b c', 'd']
assert split("a # b") == ['a', '#', 'b']
assert split("a # b", comments=True) == ['a']
''',
    ),
    dict(
        name="shlex.join",
        origin="diagnostics/shlex.py: join",
        kind="wrong_variable",
        prelude="from shlex import quote\n",
        correct='''def join(split_command):
    """Return a shell-escaped string from *split_command*."""
    return ' '.join(quote(arg) for arg in split_command)
''',
        bug=("quote(arg) for arg", "quote(split_command) for arg"),
        check='''assert join(['a', 'b c']) == "a 'b c'"
assert join([]) == ''
''',
    ),
    dict(
        name="shlex.quote",
        origin="diagnostics/shlex.py: quote",
        kind="misspelled_keyword",
        prelude="import re\n\n_find_unsafe = re.compile(r'[^\\w@%+=:,./-]', re.ASCII).search\n",
        correct='''def quote(s):
    """Return a shell-escaped version of the string *s*."""
    if not s:
        return "''"
    if _find_unsafe(s) is None:
        return s

    # use single quotes, and put single quotes into double quotes
    # the string $'b is then quoted as '$'"'"'b'
    return "'" + s.replace("'", "'\\"'\\"'") + "'"
''',
        bug=("    if _find_unsafe(s) is None:", "    if _find_unsafe(s) si None:"),
        check='''assert quote('') == "''"
assert quote('abc') == 'abc'
assert quote('a b') == "'a b'"
assert quote("it's") == "'it'\\"'\\"'s'"
''',
    ),
    dict(
        name="shlex.error_leader",
        origin="diagnostics/shlex.py: shlex.error_leader (in a small class holding the two attributes it reads)",
        kind="missing_self",
        prelude="",
        correct='''class Lexer:
    def __init__(self, infile, lineno):
        self.infile = infile
        self.lineno = lineno

    def error_leader(self, infile=None, lineno=None):
        "Emit a C-compiler-like, Emacs-friendly error-message leader."
        if infile is None:
            infile = self.infile
        if lineno is None:
            lineno = self.lineno
        return "\\"%s\\", line %d: " % (infile, lineno)
''',
        bug=("            lineno = self.lineno", "            lineno = lineno"),
        check='''lex = Lexer("a.sh", 7)
assert lex.error_leader() == '"a.sh", line 7: '
assert lex.error_leader("b.sh", 2) == '"b.sh", line 2: '
''',
    ),
    dict(
        name="shlex.push_token",
        origin="diagnostics/shlex.py: shlex.push_token (in a small class holding the attributes it reads)",
        kind="missing_self",
        prelude="from collections import deque\n",
        correct='''class Lexer:
    def __init__(self, debug=0):
        self.debug = debug
        self.pushback = deque()

    def push_token(self, tok):
        "Push a token onto the stack popped by the get_token method"
        if self.debug >= 1:
            print("shlex: pushing token " + repr(tok))
        self.pushback.appendleft(tok)
''',
        bug=("        self.pushback.appendleft(tok)", "        pushback.appendleft(tok)"),
        check='''lex = Lexer()
lex.push_token('a')
lex.push_token('b')
assert list(lex.pushback) == ['b', 'a']
''',
    ),
    # ---- crossfile/json ----
    dict(
        name="json.py_encode_basestring",
        origin="crossfile/json/encoder.py: py_encode_basestring",
        kind="misspelled_identifier",
        prelude="from json.encoder import ESCAPE, ESCAPE_DCT\n",
        correct='''def py_encode_basestring(s):
    """Return a JSON representation of a Python string"""
    def replace(match):
        return ESCAPE_DCT[match.group(0)]
    return '"' + ESCAPE.sub(replace, s) + '"'
''',
        bug=("ESCAPE.sub(replace, s)", "ESCAPE.sub(replcae, s)"),
        check='''assert py_encode_basestring('a"b\\n') == '"a\\\\"b\\\\n"'
assert py_encode_basestring('') == '""'
''',
    ),
    dict(
        name="json.py_encode_basestring_ascii",
        origin="crossfile/json/encoder.py: py_encode_basestring_ascii",
        kind="off_by_one",
        prelude="from json.encoder import ESCAPE_ASCII, ESCAPE_DCT\n",
        correct='''def py_encode_basestring_ascii(s):
    """Return an ASCII-only JSON representation of a Python string"""
    def replace(match):
        s = match.group(0)
        try:
            return ESCAPE_DCT[s]
        except KeyError:
            n = ord(s)
            if n < 0x10000:
                return '\\\\u{0:04x}'.format(n)
            else:
                # surrogate pair
                n -= 0x10000
                s1 = 0xd800 | ((n >> 10) & 0x3ff)
                s2 = 0xdc00 | (n & 0x3ff)
                return '\\\\u{0:04x}\\\\u{1:04x}'.format(s1, s2)
    return '"' + ESCAPE_ASCII.sub(replace, s) + '"'
''',
        bug=("((n >> 10) & 0x3ff)", "((n >> 11) & 0x3ff)"),
        check='''import json
for text in ['caf\\u00e9', '\\U0001f600', 'a\\n"b', 'x\\U00010437y']:
    assert py_encode_basestring_ascii(text) == json.dumps(text), (text, py_encode_basestring_ascii(text))
''',
    ),
    dict(
        name="json._decode_uXXXX",
        origin="crossfile/json/decoder.py: _decode_uXXXX",
        kind="off_by_one",
        prelude="from json.decoder import JSONDecodeError\n",
        correct='''def _decode_uXXXX(s, pos):
    esc = s[pos + 1:pos + 5]
    if len(esc) == 4 and esc[1] not in 'xX':
        try:
            return int(esc, 16)
        except ValueError:
            pass
    msg = "Invalid \\\\uXXXX escape"
    raise JSONDecodeError(msg, s, pos)
''',
        bug=("s[pos + 1:pos + 5]", "s[pos + 1:pos + 4]"),
        check='''assert _decode_uXXXX('\\\\u00e9', 1) == 0xe9
assert _decode_uXXXX('ab\\\\u0041', 3) == 0x41
try:
    _decode_uXXXX('\\\\u0x12', 1)
    raise AssertionError('no error on a bad escape')
except JSONDecodeError:
    pass
''',
    ),
    # ---- crossfile/importlib_metadata ----
    dict(
        name="importlib_metadata.unique_everseen",
        origin="crossfile/importlib_metadata/_itertools.py: unique_everseen",
        kind="wrong_variable",
        prelude="from itertools import filterfalse\n",
        correct='''def unique_everseen(iterable, key=None):
    "List unique elements, preserving order. Remember all elements ever seen."
    # unique_everseen('AAAABBBCCDAABBB') --> A B C D
    # unique_everseen('ABBCcAD', str.lower) --> A B C D
    seen = set()
    seen_add = seen.add
    if key is None:
        for element in filterfalse(seen.__contains__, iterable):
            seen_add(element)
            yield element
    else:
        for element in iterable:
            k = key(element)
            if k not in seen:
                seen_add(k)
                yield element
''',
        bug=("                seen_add(k)", "                seen_add(element)"),
        check='''assert list(unique_everseen('AAAABBBCCDAABBB')) == list('ABCD')
assert list(unique_everseen('ABBCcAD', str.lower)) == list('ABCD')
''',
    ),
    dict(
        name="importlib_metadata.always_iterable",
        origin="crossfile/importlib_metadata/_itertools.py: always_iterable",
        kind="misspelled_keyword",
        prelude="",
        correct='''def always_iterable(obj, base_type=(str, bytes)):
    """If *obj* is iterable, return an iterator over its items."""
    if obj is None:
        return iter(())

    if (base_type is not None) and isinstance(obj, base_type):
        return iter((obj,))

    try:
        return iter(obj)
    except TypeError:
        return iter((obj,))
''',
        bug=("    if (base_type is not None)", "    if (base_type is nto None)"),
        check='''assert list(always_iterable((1, 2, 3))) == [1, 2, 3]
assert list(always_iterable(1)) == [1]
assert list(always_iterable(None)) == []
assert list(always_iterable('foo')) == ['foo']
assert list(always_iterable('foo', base_type=None)) == ['f', 'o', 'o']
''',
    ),
    dict(
        name="importlib_metadata.pass_none",
        origin="crossfile/importlib_metadata/_functools.py: pass_none",
        kind="swapped_operator",
        prelude="import functools\n",
        correct='''def pass_none(func):
    """Wrap func so it's not called if its first param is None"""

    @functools.wraps(func)
    def wrapper(param, *args, **kwargs):
        if param is not None:
            return func(param, *args, **kwargs)

    return wrapper
''',
        bug=("if param is not None:", "if param is None:"),
        check='''double = pass_none(lambda x: x * 2)
assert double(3) == 6
assert double(None) is None
''',
    ),
    dict(
        name="importlib_metadata.FreezableDefaultDict",
        origin="crossfile/importlib_metadata/_collections.py: FreezableDefaultDict",
        kind="missing_self",
        prelude="import collections\n",
        correct='''class FreezableDefaultDict(collections.defaultdict):
    """Often it is desirable to prevent the mutation of a default dict after its initial construction."""

    def __missing__(self, key):
        return getattr(self, '_frozen', super().__missing__)(key)

    def freeze(self):
        self._frozen = lambda key: self.default_factory()
''',
        bug=("lambda key: self.default_factory()", "lambda key: default_factory()"),
        check='''dd = FreezableDefaultDict(list)
dd[0].append('1')
dd.freeze()
assert dd[1] == []
assert len(dd) == 1
''',
    ),
    dict(
        name="importlib_metadata.Pair",
        origin="crossfile/importlib_metadata/_collections.py: Pair",
        kind="off_by_one",
        prelude="import collections\n",
        correct='''class Pair(collections.namedtuple('Pair', 'name value')):
    @classmethod
    def parse(cls, text):
        return cls(*map(str.strip, text.split("=", 1)))
''',
        bug=('text.split("=", 1)', 'text.split("=", 2)'),
        check='''assert Pair.parse(' a = b ') == ('a', 'b')
assert Pair.parse('a = b = c') == ('a', 'b = c')
''',
    ),
    dict(
        name="importlib_metadata.normalize",
        origin="crossfile/importlib_metadata/__init__.py: Prepared.normalize (a static method, as a function)",
        kind="misspelled_identifier",
        prelude="import re\n",
        correct='''def normalize(name):
    """PEP 503 normalization plus dashes as underscores."""
    return re.sub(r"[-_.]+", "-", name).lower().replace('-', '_')
''',
        bug=('"-", name)', '"-", nmae)'),
        check='''assert normalize('Foo.Bar-baz__qux') == 'foo_bar_baz_qux'
''',
    ),
    dict(
        name="importlib_metadata.legacy_normalize",
        origin="crossfile/importlib_metadata/__init__.py: Prepared.legacy_normalize (a static method, as a function)",
        kind="wrong_variable",
        prelude="",
        correct='''def legacy_normalize(name):
    """Normalize the package name as found in older packaging tools versions and specs."""
    return name.lower().replace('-', '_')
''',
        bug=("replace('-', '_')", "replace('_', '-')"),
        check='''assert legacy_normalize('Foo-Bar') == 'foo_bar'
''',
    ),
    dict(
        name="importlib_metadata._name_from_stem",
        origin="crossfile/importlib_metadata/__init__.py: PathDistribution._name_from_stem (a static method, as a function)",
        kind="wrong_variable",
        prelude="import os\n",
        correct='''def _name_from_stem(stem):
    filename, ext = os.path.splitext(stem)
    if ext not in ('.dist-info', '.egg-info'):
        return
    name, sep, rest = filename.partition('-')
    return name
''',
        bug=("    return name\n", "    return rest\n"),
        check='''assert _name_from_stem('foo-3.0.egg-info') == 'foo'
assert _name_from_stem('CherryPy-3.0.dist-info') == 'CherryPy'
assert _name_from_stem('face.egg-info') == 'face'
assert _name_from_stem('foo.bar') is None
''',
    ),
    # ---- diagnostics/graphlib.py ----
    dict(
        name="graphlib.is_active",
        origin="diagnostics/graphlib.py: TopologicalSorter.is_active (in a small class holding the attributes it reads)",
        kind="missing_self",
        prelude="",
        correct='''class TopologicalSorter:
    def __init__(self):
        self._ready_nodes = None
        self._npassedout = 0
        self._nfinished = 0

    def is_active(self):
        """Return ``True`` if more progress can be made and ``False`` otherwise."""
        if self._ready_nodes is None:
            raise ValueError("prepare() must be called first")
        return self._nfinished < self._npassedout or bool(self._ready_nodes)
''',
        bug=("self._nfinished < self._npassedout", "self._nfinished < _npassedout"),
        check='''t = TopologicalSorter()
try:
    t.is_active()
    raise AssertionError('no error before prepare')
except ValueError:
    pass
t._ready_nodes = []
assert t.is_active() is False
t._npassedout = 2
t._nfinished = 1
assert t.is_active() is True
''',
    ),
    dict(
        name="graphlib._get_nodeinfo",
        origin="diagnostics/graphlib.py: TopologicalSorter._get_nodeinfo (in a small class holding the attribute it reads)",
        kind="missing_self",
        prelude="from graphlib import _NodeInfo\n",
        correct='''class TopologicalSorter:
    def __init__(self):
        self._node2info = {}

    def _get_nodeinfo(self, node):
        if (result := self._node2info.get(node)) is None:
            self._node2info[node] = result = _NodeInfo(node)
        return result
''',
        bug=("            self._node2info[node] = result", "            _node2info[node] = result"),
        check='''t = TopologicalSorter()
info = t._get_nodeinfo('a')
assert info.node == 'a' and t._get_nodeinfo('a') is info
assert list(t._node2info) == ['a']
''',
    ),
    dict(
        name="graphlib.__bool__",
        origin="diagnostics/graphlib.py: TopologicalSorter.is_active and __bool__ (in a small class)",
        kind="misspelled_keyword",
        prelude="",
        correct='''class TopologicalSorter:
    def __init__(self, ready_nodes, npassedout, nfinished):
        self._ready_nodes = ready_nodes
        self._npassedout = npassedout
        self._nfinished = nfinished

    def is_active(self):
        return self._nfinished < self._npassedout or bool(self._ready_nodes)

    def __bool__(self):
        return self.is_active()
''',
        bug=("        return self.is_active()", "        retrun self.is_active()"),
        check='''assert not TopologicalSorter([], 1, 1)
assert TopologicalSorter(['a'], 1, 1)
assert TopologicalSorter([], 2, 1)
''',
    ),
    # ---- diagnostics/sched.py ----
    dict(
        name="sched.empty",
        origin="diagnostics/sched.py: scheduler.empty and cancel (in a small class holding the queue and lock)",
        kind="missing_self",
        prelude="import heapq\nimport threading\n",
        correct='''class scheduler:
    def __init__(self):
        self._queue = []
        self._lock = threading.RLock()

    def cancel(self, event):
        """Remove an event from the queue."""
        with self._lock:
            self._queue.remove(event)
            heapq.heapify(self._queue)

    def empty(self):
        """Check whether the queue is empty."""
        with self._lock:
            return not self._queue
''',
        bug=("            return not self._queue", "            return not _queue"),
        check='''s = scheduler()
assert s.empty()
s._queue.extend([1, 2])
s.cancel(1)
assert not s.empty() and s._queue == [2]
''',
    ),
    dict(
        name="sched.enter",
        origin="diagnostics/sched.py: scheduler.enter (in a small class holding the clock)",
        kind="swapped_operator",
        prelude="",
        correct='''class scheduler:
    def __init__(self, timefunc):
        self.timefunc = timefunc
        self.events = []

    def enterabs(self, time, priority, action):
        self.events.append((time, priority, action))
        return self.events[-1]

    def enter(self, delay, priority, action):
        """A variant that specifies the time as a relative time."""
        time = self.timefunc() + delay
        return self.enterabs(time, priority, action)
''',
        bug=("self.timefunc() + delay", "self.timefunc() - delay"),
        check='''s = scheduler(lambda: 100)
assert s.enter(5, 1, print) == (105, 1, print)
''',
    ),
]


def buggy(case):
    """The case's function with its one fault; refuses a replacement that does not occur exactly once."""
    old, new = case["bug"]
    count = case["correct"].count(old)
    if count != 1:
        raise SystemExit(f"{case['name']}: the fault's text occurs {count} times, not once")
    return case["correct"].replace(old, new)


def main():
    names = set()
    out = []
    for case in CASES:
        if case["name"] in names:
            raise SystemExit(f"duplicate case name {case['name']}")
        names.add(case["name"])
        out.append(
            {
                "name": case["name"],
                "origin": case["origin"],
                "kind": case["kind"],
                "prelude": case["prelude"],
                "correct": case["correct"],
                "buggy": buggy(case),
                "check": case["check"],
            }
        )
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
