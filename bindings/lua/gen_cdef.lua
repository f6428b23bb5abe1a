#!/usr/bin/env luajit
--[[
gen_cdef.lua: generates the LuaJIT FFI cdefs of libshoal from its public
headers, so the binding cannot drift from the C ABI:
  core/include/shoal/shoal.h          -> bindings/lua/shoal_cdef.lua
  core/include/shoal/shoal_archive.h  -> bindings/lua/shoal_archive_cdef.lua
(the archive header includes shoal.h: its macros, SHOAL_API among them, are
known when the archive header is read; its declarations are not repeated).

  luajit bindings/lua/gen_cdef.lua                 rewrite both files
  luajit bindings/lua/gen_cdef.lua --check         exit 1 if one is stale
  luajit bindings/lua/gen_cdef.lua --stdout        print the generated text
  luajit bindings/lua/gen_cdef.lua [--header H] [--out F] ...   one header (a header
                                                   other than shoal.h is read after shoal.h)

What it does, strictly (anything it does not understand is an error, so a
header change that needs a generator change is noticed, not silently dropped):
  - removes comments;
  - evaluates #ifndef/#ifdef/#if defined(X)/#else/#endif for a GCC C compiler
    (__GNUC__ defined, __cplusplus not), so `extern "C" {` disappears;
  - collects object-like #defines: integer ones become `defines` (constants
    the FFI cannot express), attribute-only ones (SHOAL_API) are erased from
    the declarations, include guards are dropped;
  - #include lines are dropped (LuaJIT knows stdint/stddef/stdbool types);
  - keeps every declaration verbatim otherwise, whitespace normalised.
]]

local function script_dir()
    local src = debug.getinfo(1, "S").source
    if src:sub(1, 1) == "@" then
        local d = src:sub(2):match("^(.*)/[^/]*$")
        return d or "."
    end
    return "."
end

local M = {}

local function fail(msg)
    error("gen_cdef: " .. msg, 0)
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

-- Returns cdef text, ordered list of {name, value} integer defines, and the
-- macros it knows (pass them as `base` to read a header including this one).
function M.generate(header_text, base)
    -- 1. join continued lines, strip comments (keeping newlines so line numbers stay)
    local text = header_text:gsub("\\\n", " ")
    text = text:gsub("/%*.-%*/", function(c)
        return (c:gsub("[^\n]", ""))
    end)
    text = text:gsub("//[^\n]*", "")

    local defined = { __GNUC__ = true }
    local defines, define_order = {}, {}
    local erase = {}                -- attribute-only macros to erase from declarations
    local inherited = {}            -- integer macros of the base header: substituted, not listed again
    for k, v in pairs(base and base.defined or {}) do defined[k] = v end
    for k, v in pairs(base and base.erase or {}) do erase[k] = v end
    for k, v in pairs(base and base.defines or {}) do
        defines[k] = v
        inherited[k] = true
    end
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
                        if defines[name] == nil or inherited[name] then
                            inherited[name] = nil
                            define_order[#define_order + 1] = name
                        end
                        defines[name] = n
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
    local list = {}
    for _, name in ipairs(define_order) do
        list[#list + 1] = { name, defines[name] }
    end
    return table.concat(lines, "\n") .. "\n", list, { defined = defined, erase = erase, defines = defines }
end

function M.render(header_text, header_name, base)
    local cdef, list = M.generate(header_text, base)
    if cdef:find("]==]", 1, true) then
        fail("declarations contain the long-string terminator")
    end
    local b = {}
    b[#b + 1] = "-- GENERATED by bindings/lua/gen_cdef.lua from " .. header_name .. ": do not edit."
    b[#b + 1] = "-- Regenerate with: luajit bindings/lua/gen_cdef.lua   (tests/lua/test_cdef.lua checks it)"
    b[#b + 1] = "return {"
    b[#b + 1] = "cdef = [==["
    b[#b + 1] = cdef .. "]==],"
    b[#b + 1] = "defines = {"
    for _, kv in ipairs(list) do
        b[#b + 1] = ("    %s = %d,"):format(kv[1], kv[2])
    end
    b[#b + 1] = "},"
    b[#b + 1] = "}"
    return table.concat(b, "\n") .. "\n"
end

local function read(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local s = f:read("*a")
    f:close()
    return s
end
M.read = read

M.default_header = script_dir() .. "/../../core/include/shoal/shoal.h"
M.default_out = script_dir() .. "/shoal_cdef.lua"
-- What the default run generates: header (as named in the file), output.
M.targets = {
    { "core/include/shoal/shoal.h", script_dir() .. "/shoal_cdef.lua" },
    { "core/include/shoal/shoal_archive.h", script_dir() .. "/shoal_archive_cdef.lua" },
}

-- The macros of shoal.h, for a header that includes it.
local function base_of(header_path)
    local base_path = (header_path:match("^(.*/)") or "") .. "shoal.h"
    local text = assert(read(base_path))
    local _, _, known = M.generate(text)
    return known
end

-- The generated text of header_path, named `name` in the file.
function M.text_for(header_path, name)
    local htext = assert(read(header_path))
    local base = not header_path:match("/shoal%.h$") and header_path ~= "shoal.h" and base_of(header_path) or nil
    return M.render(htext, name, base)
end

local function emit(mode, header, outpath, name)
    local text = M.text_for(header, name)
    if mode == "stdout" then
        io.write(text)
    elseif mode == "check" then
        local cur = read(outpath)
        if cur ~= text then
            io.stderr:write(("gen_cdef: %s is stale: run luajit bindings/lua/gen_cdef.lua\n"):format(outpath))
            return 1
        end
        print("gen_cdef: " .. outpath .. " is up to date")
    else
        local f = assert(io.open(outpath, "wb"))
        f:write(text)
        f:close()
        print("gen_cdef: wrote " .. outpath)
    end
    return 0
end

function M.main(argv)
    local header, outpath, mode = nil, nil, "write"
    local i = 1
    while i <= #argv do
        local a = argv[i]
        if a == "--check" then
            mode = "check"
        elseif a == "--stdout" then
            mode = "stdout"
        elseif a == "--header" then
            i = i + 1
            header = argv[i]
        elseif a == "--out" then
            i = i + 1
            outpath = argv[i]
        else
            io.stderr:write("usage: gen_cdef.lua [--check|--stdout] [--header shoal.h] [--out shoal_cdef.lua]\n")
            return 2
        end
        i = i + 1
    end
    if header == nil and outpath == nil then
        local status = 0
        for _, t in ipairs(M.targets) do
            local rc = emit(mode, script_dir() .. "/../../" .. t[1], t[2], t[1])
            status = rc ~= 0 and rc or status
        end
        return status
    end
    header = header or M.default_header
    local name = header:match("core/include/shoal/[^/]+$") or header
    return emit(mode, header, outpath or M.default_out, name)
end

-- Run as a script (luajit gen_cdef.lua ...), or return the module when required.
local modname = ...
if arg and arg[0] and arg[0]:match("gen_cdef%.lua$") and modname ~= "gen_cdef" then
    os.exit(M.main(arg))
end
return M
