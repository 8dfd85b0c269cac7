// Keystores opened and made in the browser with ethers; the key never leaves the page.
import { Wallet } from "ethers";

/** A plain secp256k1 wallet (no mnemonic), as wallets/keystore.py keeps one. */
export function newWallet() {
  return new Wallet(Wallet.createRandom().privateKey);
}

export async function openKeystore(json, password, onProgress) {
  return Wallet.fromEncryptedJson(json, password, onProgress);
}

export async function encryptKeystore(wallet, password, onProgress) {
  return wallet.encrypt(password, onProgress);
}
