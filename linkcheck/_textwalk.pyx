# cython: language_level=3, boundscheck=False, wraparound=False
"""The visible-text walk of `extract`, over libxml2's own nodes.

The same walk in Python cost ~2 ms of a page's ~5 ms of judging (a Python proxy object, `.tag`,
`.get()` and `.text` per element); here the tree is read through lxml's public C API (the node
structs lxml ships the headers of, no libxml2 function is called) and only the attribute rules
stay in Python (`Walker`'s callbacks), called for the few elements that carry those attributes.
The rules themselves (which tags, which attributes) are given by `extract`: this module only walks,
and cuts the text into lines (`lines`): one per block, whitespace runs collapsed as `str.split()`
does (the same Unicode whitespace).
"""

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, strcmp, strlen

cimport lxml.includes.etreepublic as cetree
from lxml.includes cimport tree

cetree.import_lxml__etree()

cdef enum:
    SKIP = 1
    BLOCK = 2
    FURNITURE = 4
    MAX_NAMES = 128

cdef struct Buffer:
    char* data
    size_t size
    size_t capacity


cdef int _append(Buffer* buf, const char* text, size_t n) except -1:
    cdef size_t need = buf.size + n
    cdef char* grown
    if need > buf.capacity:
        grown = <char*>realloc(buf.data, need * 2 + 4096)
        if grown == NULL:
            raise MemoryError()
        buf.data = grown
        buf.capacity = need * 2 + 4096
    memcpy(buf.data + buf.size, text, n)
    buf.size = need
    return 0


cdef object _value(tree.xmlAttr* attr):
    """An attribute's value as str ('' for `<div hidden>`)."""
    cdef tree.xmlNode* part = attr.children
    cdef bytes joined = b""
    while part != NULL:
        if part.content != NULL:
            joined += <bytes>part.content
        part = part.next
    return joined.decode("utf-8", "replace")


cdef size_t _space(const unsigned char* p, size_t left) noexcept:
    """The length in bytes of the whitespace character (as `str.isspace` says) at `p`, else 0."""
    cdef unsigned char c = p[0]
    if c < 0x80:
        return 1 if (0x09 <= c <= 0x0d or 0x1c <= c <= 0x20) else 0
    if c == 0xc2 and left >= 2:
        return 2 if p[1] == 0x85 or p[1] == 0xa0 else 0
    if left < 3:
        return 0
    if c == 0xe1:
        return 3 if p[1] == 0x9a and p[2] == 0x80 else 0
    if c == 0xe2 and p[1] == 0x80:
        return 3 if p[2] <= 0x8a or p[2] == 0xa8 or p[2] == 0xa9 or p[2] == 0xaf else 0
    if c == 0xe2 and p[1] == 0x81:
        return 3 if p[2] == 0x9f else 0
    if c == 0xe3:
        return 3 if p[1] == 0x80 and p[2] == 0x80 else 0
    return 0


cdef list _split(const unsigned char* data, size_t size, unsigned char boundary):
    """The non-empty lines of UTF-8 `data` cut at `boundary`, each `" ".join(line.split())`."""
    cdef list out = []
    cdef unsigned char* line = <unsigned char*>malloc(size + 1)
    cdef size_t i = 0, n = 0, width
    cdef bint gap = False
    if line == NULL:
        raise MemoryError()
    try:
        while i <= size:
            if i == size or data[i] == boundary:
                if n:
                    out.append(PyUnicode_DecodeUTF8(<char*>line, n, "surrogatepass"))
                n, gap = 0, False
                i += 1
                continue
            width = _space(data + i, size - i)
            if width:
                gap = n > 0
                i += width
                continue
            if gap:
                line[n] = 0x20
                n += 1
                gap = False
            line[n] = data[i]
            n += 1
            i += 1
        return out
    finally:
        free(line)


def _ascii(str boundary):
    if len(boundary) != 1 or boundary >= "\x80":  # a byte of UTF-8 that is never part of another character
        raise ValueError(f"the boundary must be one ASCII character, not {boundary!r}")
    return boundary


def lines(str text, str boundary):
    """The non-empty lines of `text` cut at `boundary` (one ASCII character), whitespace collapsed."""
    data = text.encode("utf-8", "surrogatepass")
    return _split(<const unsigned char*><const char*>data, len(data), ord(_ascii(boundary)))


cdef class Walker:
    """Walks a tree with fixed tag sets and attribute rules; `lines()` gives the visible text. The
    callbacks run while the walk holds pointers into the tree: they must not change it."""

    cdef bytes _names  # the tag names, NUL-separated, kept alive for `_name_ptrs`
    cdef const char* _name_ptrs[MAX_NAMES]
    cdef int _flags[MAX_NAMES]
    cdef int _count
    cdef object _hidden
    cdef object _furniture
    cdef str _break

    def __init__(self, skip, block, furniture, hidden, is_furniture, str boundary):
        """`skip`, `block`, `furniture`: tag names; `hidden(aria_hidden, style)` and
        `is_furniture(role, class, id)` (each value a str or None) judge an element's attributes;
        `boundary` is written at each block's start and end."""
        flags = {}
        for names, flag in ((skip, SKIP), (block, BLOCK), (furniture, FURNITURE)):
            for name in names:
                flags[name] = flags.get(name, 0) | flag
        if len(flags) > MAX_NAMES:
            raise ValueError(f"more than {MAX_NAMES} tag names")
        encoded = [name.encode("ascii") + b"\0" for name in flags]
        self._names = b"".join(encoded)
        cdef const char* base = self._names
        cdef size_t offset = 0
        self._count = 0
        for name, raw in zip(flags, encoded):
            self._name_ptrs[self._count] = base + offset
            self._flags[self._count] = flags[name]
            offset += len(raw)
            self._count += 1
        self._hidden, self._furniture, self._break = hidden, is_furniture, _ascii(boundary)

    cdef int _flag(self, tree.xmlNode* node):
        if node.ns != NULL:  # "{namespace}name" is none of the plain HTML names
            return 0
        cdef int i
        for i in range(self._count):
            if self._name_ptrs[i][0] == node.name[0] and strcmp(self._name_ptrs[i], <const char*>node.name) == 0:
                return self._flags[i]
        return 0

    cdef bint _shown(self, tree.xmlNode* node, int flag, bint skip_furniture) except -1:
        """Not skipped, not hidden, and (when asked) not page furniture."""
        if flag & SKIP:
            return False
        cdef tree.xmlAttr* attr = node.properties
        cdef bint hidden_attr = False
        cdef const char* name
        aria = style = role = klass = ident = None
        while attr != NULL:
            if attr.ns == NULL:
                name = <const char*>attr.name
                if strcmp(name, b"hidden") == 0:
                    hidden_attr = True
                elif aria is None and strcmp(name, b"aria-hidden") == 0:
                    aria = _value(attr)
                elif style is None and strcmp(name, b"style") == 0:
                    style = _value(attr)
                elif role is None and strcmp(name, b"role") == 0:
                    role = _value(attr)
                elif klass is None and strcmp(name, b"class") == 0:
                    klass = _value(attr)
                elif ident is None and strcmp(name, b"id") == 0:
                    ident = _value(attr)
            attr = attr.next
        if hidden_attr or ((aria is not None or style is not None) and self._hidden(aria, style)):
            return False
        if skip_furniture:
            if flag & FURNITURE:
                return False
            if (role is not None or klass is not None or ident is not None) and self._furniture(role, klass, ident):
                return False
        return True

    def lines(self, cetree._Element root not None, bint skip_furniture):
        """The visible text under `root`, one line per block (`lines`): the text is `el.text`,
        children and tails in reading order, `boundary` at each block's start and end."""
        cdef Buffer buf
        buf.data, buf.size, buf.capacity = NULL, 0, 0
        cdef bytes mark = self._break.encode("ascii")
        cdef const char* mark_c = mark
        cdef size_t mark_n = len(mark)
        cdef tree.xmlNode* top = root._c_node
        cdef tree.xmlNode* node
        cdef int flag
        if top == NULL:  # an element proxy lxml never set up
            raise ValueError("invalid element")
        try:
            if top.type != tree.XML_ELEMENT_NODE:
                return []
            flag = self._flag(top)
            if not self._shown(top, flag, skip_furniture):
                return []
            if flag & BLOCK:
                _append(&buf, mark_c, mark_n)
            node = top.children
            while node != NULL:
                descend = False
                if node.type == tree.XML_TEXT_NODE or node.type == tree.XML_CDATA_SECTION_NODE:
                    if node.content != NULL:
                        _append(&buf, <const char*>node.content, strlen(<const char*>node.content))
                elif node.type == tree.XML_ELEMENT_NODE:
                    flag = self._flag(node)
                    if self._shown(node, flag, skip_furniture):
                        if flag & BLOCK:
                            _append(&buf, mark_c, mark_n)
                        if node.children != NULL:
                            descend = True
                        elif flag & BLOCK:
                            _append(&buf, mark_c, mark_n)
                if descend:
                    node = node.children
                    continue
                while node.next == NULL:  # leaving elements whose children are all done
                    node = node.parent
                    if node == top:
                        break
                    if self._flag(node) & BLOCK:
                        _append(&buf, mark_c, mark_n)
                if node == top:
                    break
                node = node.next
            if self._flag(top) & BLOCK:
                _append(&buf, mark_c, mark_n)
            return _split(<const unsigned char*>buf.data, buf.size, mark[0])
        finally:
            free(buf.data)
