# cython: language_level=3, boundscheck=False, wraparound=False
"""The visible-text walk of `extract`, over libxml2's own nodes.

The same walk in Python cost ~2 ms of a page's ~5 ms of judging (a Python proxy object, `.tag`,
`.get()` and `.text` per element); here the tree is read through lxml's public C API (the node
structs lxml ships the headers of, no libxml2 function is called) and only the attribute rules
stay in Python (`Walker`'s callbacks), called for the few elements that carry those attributes.
The rules themselves (which tags, which attributes) are given by `extract`: this module only walks.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdlib cimport free, realloc
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


cdef class Walker:
    """Walks a tree with fixed tag sets and attribute rules; `text()` gives the visible text."""

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
        self._hidden, self._furniture, self._break = hidden, is_furniture, boundary

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

    def text(self, cetree._Element root, bint skip_furniture):
        """The text of `root`'s visible subtree, `boundary` around each block: what the Python
        walk's pieces joined were (`el.text`, children, closing boundary, tails, in order)."""
        cdef Buffer buf
        buf.data, buf.size, buf.capacity = NULL, 0, 0
        cdef bytes mark = self._break.encode("utf-8")
        cdef const char* mark_c = mark
        cdef size_t mark_n = len(mark)
        cdef tree.xmlNode* top = root._c_node
        cdef tree.xmlNode* node
        cdef int flag
        try:
            if top.type != tree.XML_ELEMENT_NODE:
                return ""
            flag = self._flag(top)
            if not self._shown(top, flag, skip_furniture):
                return ""
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
            if buf.size == 0:
                return ""
            return PyBytes_FromStringAndSize(buf.data, buf.size).decode("utf-8", "replace")
        finally:
            free(buf.data)
