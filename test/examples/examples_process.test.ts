// The Process examples on child processes (see process_examples.ts).
import { exampleTests } from './process_examples.js'

exampleTests('process')
