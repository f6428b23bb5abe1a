/* Plain-text output of strings the CnC file supplies (counter labels, error
 * texts): whoever can write that file chooses them, so control bytes print
 * as \xNN and a label cannot move the cursor, rewrite the screen or reprogram
 * the terminal of the person running the tool. Bytes >= 0x80 pass (UTF-8). */
#ifndef SHOAL_TOOL_TEXT_H
#define SHOAL_TOOL_TEXT_H

#include <stdio.h>

static inline void tool_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
    {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || 0x7f == ch)
        {
            printf("\\x%02x", ch);
        }
        else
        {
            putchar(ch);
        }
    }
}

#endif
