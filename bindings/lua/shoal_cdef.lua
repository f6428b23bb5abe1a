--[[
shoal_cdef.lua: the LuaJIT FFI declarations of libshoal, read from its public
headers when shoal.lua loads, so the binding cannot drift from the C ABI and
no copy of the declarations is kept:
  shoal.h            -> cdef
  shoal_archive.h    -> archive_cdef (the archive header includes shoal.h: its
                        macros, SHOAL_API among them, are known when the
                        archive header is read; its declarations are not repeated)

  local cdefs = require("shoal_cdef").load(moddir)   -- moddir: shoal.lua's directory

What it does, strictly (anything it does not understand is an error, so a
header change that needs a change here is noticed when the module loads, in
tests/lua/test_cdef.lua first, not silently dropped):
  - removes comments;
  - evaluates #ifndef/#ifdef/#if defined(X)/#else/#endif for a GCC C compiler
    (__GNUC__ defined, __cplusplus not), so `extern "C" {` disappears;
  - collects object-like #defines: integer ones become `defines` (constants
    the FFI cannot express), attribute-only ones (SHOAL_API) are erased from
    the declarations, include guards are dropped;
  - #include lines are dropped (LuaJIT knows stdint/stddef/stdbool types);
  - keeps every declaration verbatim otherwise, whitespace normalised.
]]

local M = {}

local function fail(msg)
    error("shoal_cdef: " .. msg, 0)
end

local function parse_int(v)
    -- integer literal, optionally negative and parenthesised: 0, 0x80, (-1)
    local s = v:gsub("%s+", "")
    while s:match("^%(.*%)$") do
        s = s:sub(2, -2)
    end
    local neg = false
    if s:sub(1, 1) == "-" then
        neg, s = true, s:sub(2)
    end
    local n
    if s:match("^0[xX]%x+$") then
        n = tonumber(s:sub(3), 16)
    elseif s:match("^%d+$") then
        n = tonumber(s, 10)
    end
    if n == nil then
        return nil
    end
    return neg and -n or n
end

-- Returns the cdef text, the header's own integer defines (name -> value),
-- and the macros it knows (pass them as `base` to read a header including
-- this one: its macros are then substituted, not listed again).
function M.generate(header_text, base)
    -- 1. join continued lines, strip comments (keeping newlines so line numbers stay)
    local text = header_text:gsub("\\\n", " ")
    text = text:gsub("/%*.-%*/", function(c)
        return (c:gsub("[^\n]", ""))
    end)
    text = text:gsub("//[^\n]*", "")

    local defined = { __GNUC__ = true }
    local defines = {}              -- every integer macro known, the base header's too
    local own = {}                  -- the integer macros this header defines
    local erase = {}                -- attribute-only macros to erase from declarations
    for k, v in pairs(base and base.defined or {}) do defined[k] = v end
    for k, v in pairs(base and base.erase or {}) do erase[k] = v end
    for k, v in pairs(base and base.defines or {}) do defines[k] = v end
    local stack = {}                -- conditional stack: {active=bool, taken=bool, parent=bool}
    local active = true
    local out = {}
    local lineno = 0

    local function push(cond)
        stack[#stack + 1] = { parent = active, taken = cond }
        active = active and cond
    end

    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        lineno = lineno + 1
        local directive = line:match("^%s*#%s*(.*)$")
        if directive then
            local word, rest = directive:match("^(%a+)%s*(.-)%s*$")
            if word == "ifndef" then
                push(not defined[rest])
            elseif word == "ifdef" then
                push(defined[rest] and true or false)
            elseif word == "if" then
                local name = rest:match("^defined%s*%(%s*([%w_]+)%s*%)$") or rest:match("^defined%s+([%w_]+)$")
                if not name then
                    fail(("line %d: unsupported #if expression '%s'"):format(lineno, rest))
                end
                push(defined[name] and true or false)
            elseif word == "else" then
                local top = stack[#stack] or fail(("line %d: #else without #if"):format(lineno))
                active = top.parent and not top.taken
                top.taken = true
            elseif word == "endif" then
                local top = table.remove(stack) or fail(("line %d: #endif without #if"):format(lineno))
                active = top.parent
            elseif word == "include" then
                -- the FFI has the standard types built in
            elseif word == "define" then
                if active then
                    local name, params = rest:match("^([%w_]+)(%(?)")
                    if not name then
                        fail(("line %d: bad #define"):format(lineno))
                    end
                    if params == "(" then
                        fail(("line %d: function-like macro %s is not supported"):format(lineno, name))
                    end
                    local value = rest:sub(#name + 1):match("^%s*(.-)%s*$")
                    defined[name] = true
                    local n = parse_int(value)
                    if n ~= nil then
                        defines[name] = n
                        own[name] = n
                    elseif value == "" or value:match("^__attribute__%s*%(%(.*%)%)$") then
                        erase[name] = true
                    else
                        fail(("line %d: macro %s = '%s' is neither an integer nor an attribute"):format(lineno, name, value))
                    end
                end
            elseif word == "undef" or word == "error" or word == "pragma" or word == "elif" then
                fail(("line %d: unsupported directive #%s"):format(lineno, word))
            else
                fail(("line %d: unknown directive #%s"):format(lineno, tostring(word)))
            end
        elseif active then
            out[#out + 1] = line
        end
    end
    if #stack ~= 0 then
        fail("unterminated #if")
    end

    local body = table.concat(out, "\n")
    -- 2. erase attribute macros; substitute integer macros used in declarations
    body = body:gsub("[%a_][%w_]*", function(id)
        if erase[id] then
            return ""
        end
        if defines[id] ~= nil then
            return tostring(defines[id])
        end
    end)
    if body:find('extern%s*"C"') then
        fail('extern "C" survived preprocessing')
    end
    -- 3. normalise whitespace: trailing blanks, leading blanks from erased macros, blank runs
    local lines = {}
    local blank = true
    for l in (body .. "\n"):gmatch("([^\n]*)\n") do
        l = l:gsub("%s+$", "")
        if l:match("^%S") then
            l = l:gsub("  +", " ")
        else
            l = l:gsub("^(%s*)(.-)$", function(indent, rest) return indent .. rest:gsub("  +", " ") end)
        end
        l = l:gsub("^ (%S)", "%1")
        if l == "" then
            if not blank then
                lines[#lines + 1] = ""
            end
            blank = true
        else
            lines[#lines + 1] = l
            blank = false
        end
    end
    while lines[#lines] == "" do
        lines[#lines] = nil
    end
    return table.concat(lines, "\n") .. "\n", own, { defined = defined, erase = erase, defines = defines }
end

local function read(path)
    local f = io.open(path, "rb")
    if not f then
        return nil
    end
    local s = f:read("*a")
    f:close()
    return s
end

-- The declarations of the headers in dir (shoal.h and shoal_archive.h):
-- { cdef = shoal.h's, archive_cdef = shoal_archive.h's, defines = the integer
-- macros of both (name -> value), dir = dir }.
function M.read(dir)
    local function header(name)
        return read(dir .. "/" .. name) or fail("cannot read " .. dir .. "/" .. name)
    end
    local cdef, defines, known = M.generate(header("shoal.h"))
    local archive_cdef, archive_defines = M.generate(header("shoal_archive.h"), known)
    for k, v in pairs(archive_defines) do
        defines[k] = v
    end
    return { cdef = cdef, archive_cdef = archive_cdef, defines = defines, dir = dir }
end

-- The declarations for shoal.lua in moddir, from the first of these holding
-- shoal.h: the source tree's core/include/shoal; moddir/shoal, where the rock
-- (rockspecs/) installs the headers of the library it builds; an install
-- prefix's (<prefix>/share/lua/5.1 -> <prefix>/include/shoal); the system's
-- (libshoal-dev).
function M.load(moddir)
    local dirs = { moddir .. "/../../core/include/shoal", moddir .. "/shoal", moddir .. "/../../../include/shoal",
        "/usr/include/shoal" }
    for _, dir in ipairs(dirs) do
        if read(dir .. "/shoal.h") then
            return M.read(dir)
        end
    end
    error("shoal: cannot find shoal.h, the header its FFI declarations are read from, in any of:\n  "
        .. table.concat(dirs, "\n  "), 0)
end

return M

