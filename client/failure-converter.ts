// Loaded by path (DataConverter.failureConverterPath) in clients, workers and the workflow bundle,
// so it imports nothing but @temporalio/common (the workflow sandbox allows no Node modules).
import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failures with their message and stack trace moved into `encodedAttributes`, a payload that the
 * payload codecs encrypt like any other: the server stores "Encoded failure" and ciphertext, while
 * a client or codec server with the key reads the original message. Used only with a codec
 * (lmsiDataConverter); without one, failures stay as they are.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
