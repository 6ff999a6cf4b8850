/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text — everything between a JSON request and token ids, and between
 * generated ids and an OpenAI response: the byte-level BPE tokenizer and
 * streaming detokeniser, the Jinja chat-template interpreter and chat
 * formatting, and the tool-call and reasoning output parsers.
 *
 * It knows no model weights, no engine and no transport.
 */
#ifndef OCTO_TEXT_H
#define OCTO_TEXT_H

#include "base/base.h"

/* ==== tokenizer (byte-level BPE) ==== */

/* ==== chat templates (Jinja) and chat formatting ==== */

/* ==== output parsers: tool calls and reasoning ==== */

#endif /* OCTO_TEXT_H */
