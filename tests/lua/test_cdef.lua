-- The FFI cdefs cannot drift from core/include/shoal/shoal.h and
-- shoal_archive.h: shoal_cdef.lua reads them when the module loads; this
-- checks what it makes of them, the library's exports and the struct layouts
-- the C compiler sees.
local H, T, shoal = require("helper").start()
local ffi = require "ffi"

local gen = dofile(H.LUA_DIR .. "/shoal_cdef.lua")
local HEADER = H.ROOT .. "/core/include/shoal/shoal.h"
local read_headers = gen.read(H.ROOT .. "/core/include/shoal")
-- Both headers' declarations as one: the archive's follow shoal.h's.
local cdefs = { cdef = read_headers.cdef .. read_headers.archive_cdef, defines = read_headers.defines }

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

T:test("the module reads the headers beside it, the archive's without shoal.h's", function()
    -- the source tree's; an installed rock's own copy (scripts/test_rock.sh)
    local expected = os.getenv("SHOAL_LUA_MODULES") and (H.MODULE_DIR .. "/shoal")
        or (H.LUA_DIR .. "/../../core/include/shoal")
    local loaded = dofile(H.MODULE_DIR .. "/shoal_cdef.lua").load(H.MODULE_DIR)
    H.eq(loaded.dir, expected, "where " .. H.MODULE_DIR .. "/shoal.lua reads its headers")
    H.eq(loaded.cdef, read_headers.cdef, "shoal.h's declarations")
    H.eq(loaded.archive_cdef, read_headers.archive_cdef, "shoal_archive.h's declarations")
    H.ok(loaded.archive_cdef:find("shoal_recording_cursor_poll", 1, true), "the archive cdef declares the offline reader")
    H.ok(not loaded.archive_cdef:find("shoal_subscription_poll_batch", 1, true), "the archive cdef does not repeat shoal.h")
    H.eq(shoal.defines.SHOAL_FLAG_BEGIN, 128, "shoal.defines has shoal.h's integer macros")
    H.raises("cannot read /nonexistent/shoal.h", gen.read, "/nonexistent")
end)

T:test("the reader notices header changes and rejects what it cannot translate", function()
    local header = read(HEADER)
    local changed = header:gsub("#ifdef __cplusplus\n}\n#endif",
        "SHOAL_API int shoal_new_function(int x);\n#ifdef __cplusplus\n}\n#endif")
    local cdef = gen.generate(changed)
    H.ok(cdef:find("int shoal_new_function(int x);", 1, true), "new declaration appears, SHOAL_API erased")
    H.raises("function-like macro", gen.generate, "#define SHOAL_F(x) (x)\n")
    H.raises("unsupported #if", gen.generate, "#if SHOAL_X > 1\n#endif\n")
    H.raises("neither an integer nor an attribute", gen.generate, "#define SHOAL_S \"text\"\n")
end)

-- function names declared in the cdef
local function cdef_functions()
    local names = {}
    for line in cdefs.cdef:gmatch("[^\n]+") do
        if not line:match("^typedef") then
            local name = line:match("[%s%*](shoal_[%w_]+)%s*%(")
            if name then
                names[#names + 1] = name
            end
        end
    end
    return names
end

T:test("every exported shoal_* symbol is declared, every declared function exists", function()
    local declared = {}
    local names = cdef_functions()
    for _, name in ipairs(names) do
        declared[name] = true
        local ok = pcall(function() return shoal.C[name] end)
        H.ok(ok, "declared function " .. name .. " is in " .. shoal.libpath)
    end
    local p = io.popen("nm -D --defined-only " .. H.q(shoal.libpath))
    local exported = 0
    for line in p:lines() do
        local kind, name = line:match("^%x+%s+(%a)%s+(shoal_[%w_]+)")
        if kind == "T" then
            exported = exported + 1
            H.ok(declared[name], "exported function " .. tostring(name) .. " is declared in the cdef")
        end
    end
    p:close()
    H.eq(exported, #names, "exported functions vs declared functions")
end)

-- Parses the POD structs (name -> field list) and enum constants from the cdef.
local function cdef_structs()
    local structs = {}
    for body, name in cdefs.cdef:gmatch("typedef struct [%w_]+%s*{(.-)}%s*([%w_]+);") do
        local fields = {}
        for decl in body:gmatch("([^;]+);") do
            local field = decl:match("([%w_]+)%s*%[[^%]]*%]%s*$") or decl:match("([%w_]+)%s*$")
            fields[#fields + 1] = field
        end
        structs[#structs + 1] = { name = name, fields = fields }
    end
    return structs
end

T:test("struct layouts, enum values and constants match the C compiler's", function()
    local structs = cdef_structs()
    H.ok(#structs >= 4, "found the POD structs")
    local src = { "#include <stdio.h>", "#include <stddef.h>", '#include "shoal/shoal.h"',
        '#include "shoal/shoal_archive.h"', "int main(void) {" }
    local expect = {}
    local function add(label, cexpr, luaval)
        src[#src + 1] = ('    printf("%%s %%lld\\n", "%s", (long long)(%s));'):format(label, cexpr)
        expect[label] = luaval
    end
    for _, s in ipairs(structs) do
        add(s.name .. ".sizeof", "sizeof(" .. s.name .. ")", ffi.sizeof(s.name))
        for _, f in ipairs(s.fields) do
            add(s.name .. "." .. f, "offsetof(" .. s.name .. ", " .. f .. ")", ffi.offsetof(s.name, f))
        end
    end
    local n_enum = 0
    for name in cdefs.cdef:gmatch("(SHOAL_[%u_]+)%s*=") do
        add(name, name, tonumber(shoal.C[name]))
        n_enum = n_enum + 1
    end
    H.ok(n_enum >= 20, "found the enum constants")
    for name, v in pairs(cdefs.defines) do
        add(name, name, v)
    end
    src[#src + 1] = "    return 0;\n}\n"
    local cfile = os.tmpname() .. ".c"
    local exe = cfile .. ".exe"
    local f = io.open(cfile, "w")
    f:write(table.concat(src, "\n"))
    f:close()
    local rc, out = H.run(("cc -std=c99 -I%s -o %s %s"):format(H.q(H.ROOT .. "/core/include"), exe, cfile))
    H.eq(rc, 0, "compile layout probe: " .. out)
    local p = io.popen(exe)
    local seen = 0
    for line in p:lines() do
        local label, value = line:match("^(%S+) (%-?%d+)$")
        H.eq(tonumber(value), expect[label], label)
        seen = seen + 1
    end
    p:close()
    os.remove(cfile)
    os.remove(exe)
    local total = 0
    for _ in pairs(expect) do
        total = total + 1
    end
    H.eq(seen, total, "every probe printed")
end)

return T
