import { type ChatTemplate, loadChatTemplate } from '../engine/tokenizer/chat-template';
import type { LoadedTokenizer } from '../engine/tokenizer/load';
import { EXEMPLAR_SEPARATOR, chatAssistantTurn, chatUserTurn } from '../method/formats';
import type { ChatTemplateMode } from '../contract';

/**
 * How a model is prompted (config prompting.chatTemplate): 'auto' renders the paper's prompts as
 * chat turns with the model folder's chat template when it has one (instruct models), 'none' gives
 * every model the raw text prompts. Campaigns started before the option keep raw prompts (their
 * activity inputs carry no mode).
 */

export interface Prompting {
  /** The template prompts are rendered with; null: raw text. */
  template: ChatTemplate | null;
  /** A sampling prompt as the model is given it: the user turn, then the assistant's opening. */
  prompt(text: string): string;
  /**
   * A training example as the model is trained on it. As chat: the prompt is the conversation up
   * to the assistant's opening (no loss), the completion the assistant's turn with its end-of-turn
   * token (the loss): the model learns to answer and to end its turn, nothing of the template.
   */
  example(e: { prompt: string; completion: string }): { prompt: string; completion: string };
  /**
   * Stop strings for sampling. As chat, the blank line that ends a raw completion (the next
   * exemplar would follow it) is replaced by the template's end-of-turn token: a turn ends there,
   * and a reasoning assistant may write blank lines inside its answer.
   */
  stop(stops: readonly string[]): string[];
}

const RAW: Prompting = {
  template: null,
  prompt: (text) => text,
  example: (e) => ({ prompt: e.prompt, completion: e.completion }),
  stop: (stops) => [...stops],
};

export function promptingFor(
  dir: string,
  tokenizer: LoadedTokenizer,
  mode: ChatTemplateMode | undefined,
): Prompting {
  if (mode !== 'auto') return RAW;
  const template = loadChatTemplate(dir, tokenizer);
  if (template === null) return RAW;
  return {
    template,
    prompt: (text) => template.generationPrompt(chatUserTurn(text)),
    example: (e) => template.turn(chatUserTurn(e.prompt), chatAssistantTurn(e.completion)),
    stop(stops) {
      const end = template.endOfTurn();
      const kept = stops.filter((s) => s !== EXEMPLAR_SEPARATOR);
      return end === null || kept.includes(end) ? kept : [...kept, end];
    },
  };
}
